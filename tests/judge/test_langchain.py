"""The LangChain backend at its unit boundary: LangChain's own fake chat models for any provider, and
LangChain's ChatOpenAI against a fake HTTP endpoint (and the stub server) for the OpenAI-compatible path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("langchain", reason="the langchain extra is not installed")

from judge_fakes import make_item  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

from pipeline.judge import MODEL_NAME, ChatCallError, Judge, JudgeSettings, LocalChat, OpenAIChat  # noqa: E402
from pipeline.judge._backend import NoLogprobsError  # noqa: E402
from pipeline.judge._langchain import EmbeddedLangChain, LangChainChat  # noqa: E402
from pipeline.judge._outage import transient  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from stub_judge import StubJudgeServer  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {"points": {"type": "integer"}, "evidence": {"type": "string"}},
    "required": ["points", "evidence"],
    "additionalProperties": False,
}
MESSAGES = [{"role": "system", "content": "You grade."}, {"role": "user", "content": "<answer>\nheap\n</answer>"}]


class ToolCallingFake(GenericFakeChatModel):
    """LangChain's generic fake with tools bound, so `with_structured_output` takes its tool-calling path
    (the one most providers without a JSON-schema mode use).
    """

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=tools, **kwargs)


class Raising(ToolCallingFake):
    """A provider whose SDK raises (a rate limit, a dropped connection)."""

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("rate limited by the provider")


def _tool_reply(args: dict[str, Any], **fields: Any) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "judgment", "args": args, "id": "call-1"}], **fields)


def _chat(*messages: AIMessage | str, seen: list[dict] | None = None, fake: type = ToolCallingFake) -> LangChainChat:
    """A backend whose provider is a fake answering `messages` in turn; `seen` records each model's parameters."""
    replies = iter(messages)

    def factory(**params: Any) -> GenericFakeChatModel:
        if seen is not None:
            seen.append(params)
        return fake(messages=replies)

    return LangChainChat("anthropic:fake-model", timeout_s=5, max_retries=0, factory=factory)


def _complete(chat: LangChainChat, *, temperature: float = 0.0, seed: int = 3, max_tokens: int = 50):
    return chat.complete(MESSAGES, schema=SCHEMA, schema_name="judgment", temperature=temperature, seed=seed,
                         max_tokens=max_tokens)  # fmt: skip


def test_a_structured_verdict_comes_back_as_the_json_text_the_judge_parses():
    seen: list[dict] = []
    usage = {"input_tokens": 120, "output_tokens": 9, "total_tokens": 129, "input_token_details": {"cache_read": 100}}
    chat = _chat(_tool_reply({"points": 2, "evidence": "heap"}, usage_metadata=usage),
                 _tool_reply({"points": 1, "evidence": "heap"}), _tool_reply({"points": 0, "evidence": ""}),
                 seen=seen)  # fmt: skip
    reply = _complete(chat)
    assert json.loads(reply.content) == {"points": 2, "evidence": "heap"}
    assert (reply.tokens_in, reply.tokens_out, reply.cached_tokens) == (120, 9, 100)
    assert json.loads(_complete(chat).content)["points"] == 1
    assert seen == [{"temperature": 0.0, "max_tokens": 50}], "one model per (temperature, max_tokens), reused"
    _complete(chat, temperature=0.7)
    assert seen[-1] == {"temperature": 0.7, "max_tokens": 50}


def test_a_reply_that_does_not_parse_reaches_the_judge_as_text():
    reply = _complete(_chat(AIMessage(content="I would give it 2 points")))
    assert reply.content == "I would give it 2 points"


def test_provider_errors_and_cut_off_replies_are_chat_call_errors():
    with pytest.raises(ChatCallError, match="anthropic:fake-model: ConnectionError: rate limited"):
        _complete(_chat(fake=Raising))
    cut = _tool_reply({"points": 2, "evidence": "he"}, response_metadata={"stop_reason": "max_tokens"})
    with pytest.raises(ChatCallError, match="cut off at max_tokens=50"):
        _complete(_chat(cut))


def test_a_provider_without_log_probabilities_says_so():
    with pytest.raises(NoLogprobsError, match="returns no token log-probabilities"):
        _chat("3").distribution(MESSAGES, labels=["0", "1", "2", "3"], seed=3)
    with pytest.raises(ValueError, match="provider:model"):
        LangChainChat("gpt-4o-mini", timeout_s=5, max_retries=0)


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat completion: a verdict, or one digit with its top log-probabilities when asked."""
    logprobs = None
    content = json.dumps({"points": 2, "evidence": "heap"})
    if body.get("logprobs"):
        content = "2"
        top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in [("2", -0.2), (" 1", -2.0), ("x", -4.0)]]
        logprobs = {"content": [{"token": "2", "logprob": -0.2, "bytes": None, "top_logprobs": top}]}
    return {
        "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": logprobs,
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 8, "total_tokens": 128},
    }  # fmt: skip


def test_through_chat_openai_the_request_and_the_reading_are_the_openai_backends():
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=_completion(seen[-1]))

    client = httpx.Client(transport=httpx.MockTransport(handler))
    url = "http://judge.test/v1"
    chat = LangChainChat(
        "openai:m",
        timeout_s=5,
        max_retries=0,
        base_url=url,
        api_key="k",
        grammar=True,
        factory=lambda **p: ChatOpenAI(model="m", base_url=url, api_key="k", http_client=client, **p),
    )
    direct = OpenAIChat(base_url=url, model="m", api_key="k", timeout_s=5, max_retries=0, http_client=client,
                        grammar=True)  # fmt: skip
    mine, reference = _complete(chat), _complete(direct)
    assert (json.loads(mine.content), mine.tokens_in, mine.tokens_out) == (
        json.loads(reference.content),
        reference.tokens_in,
        reference.tokens_out,
    )
    ours, theirs = seen[0], seen[1]
    for key in ("model", "messages", "response_format", "temperature", "seed"):
        assert ours[key] == theirs[key], key
    assert ours["max_completion_tokens"] == theirs["max_tokens"] == 50
    labels = ["0", "1", "2", "3"]
    read = chat.distribution(MESSAGES, labels=labels, seed=3)
    expected = direct.distribution(MESSAGES, labels=labels, seed=3)
    assert read.probabilities == pytest.approx(expected.probabilities)
    assert read.probabilities["1"] > 0, "' 1' counts for the label 1"
    assert (read.coverage, read.decoded) == (pytest.approx(expected.coverage), "2")
    ours, theirs = seen[-2], seen[-1]
    for key in ("messages", "grammar", "cache_prompt", "logprobs", "top_logprobs", "seed", "temperature"):
        assert ours[key] == theirs[key], key
    assert ours["max_completion_tokens"] == theirs["max_tokens"] == 1


def test_a_judge_on_langchain_reads_the_distribution_where_the_provider_has_log_probabilities(question, tmp_path):
    with StubJudgeServer() as server:
        settings = JudgeSettings(base_url=server.base_url, model="stub", cache_dir=tmp_path, mode="distribution")
        chat = LangChainChat("openai:stub", timeout_s=10, max_retries=0, base_url=server.base_url, api_key="k")
        judge = Judge(chat, settings)
        [judgment] = judge.judge_items([(question, make_item(question, "Keep a min-heap of size k."))])
    assert judge.stats.fallback == "", "the distribution path applied"
    assert judgment.awards["heap"].distribution, "the award carries the label distribution"


def test_a_judge_on_langchain_scores_caches_and_records_provider_and_model(question, tmp_path):
    item = make_item(question, "Keep a min-heap of size k: O(n log k). Metrics: recall, MRR, nDCG.")
    with StubJudgeServer() as server:
        settings = JudgeSettings(base_url=server.base_url, model="stub", cache_dir=tmp_path / "lc", mode="item")
        chat = LangChainChat("openai:stub", timeout_s=10, max_retries=0, base_url=server.base_url, api_key="k")
        judge = Judge(chat, settings)
        first = judge.judge_items([(question, item)])[0]
        calls = server.calls
        again = judge.judge_items([(question, item)])[0]
        cached = server.calls
        direct = OpenAIChat(base_url=server.base_url, model="stub", api_key="k", timeout_s=10, max_retries=0)
        plain = Judge(direct, settings.model_copy(update={"cache_dir": tmp_path / "openai"}))
        [reference] = plain.judge_items([(question, item)])
    assert calls >= 1 and cached == calls, "the second run is served from the cache"
    assert first.awards == again.awards and all(c.cache_hit for c in again.calls)
    assert {c.model for c in first.calls} == {"openai:stub"}, "provider and model are the provenance"
    assert first.awards == reference.awards, "the same endpoint gives the same awards through either backend"


def test_an_endpoint_outage_through_chat_openai_is_transient_for_the_judges_patience():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"message": "loading model"}})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    url = "http://judge.test/v1"
    chat = LangChainChat(
        "openai:m",
        timeout_s=5,
        max_retries=0,
        base_url=url,
        api_key="k",
        factory=lambda **p: ChatOpenAI(model="m", base_url=url, api_key="k", http_client=client, **p),
    )
    with pytest.raises(ChatCallError, match="openai:m: .*503") as failed:
        _complete(chat)
    assert transient(failed.value), "a 503 is sent again until the outage budget, as with the openai backend"
    with pytest.raises(ChatCallError) as bad:
        _complete(_chat(fake=Raising))
    assert not transient(bad.value), "a provider error the judge cannot classify is the item's own failure"


def test_the_embedded_server_through_langchain_starts_on_first_call_and_gives_the_local_judges_awards(
    question, tmp_path
):
    """llama-server is tests/support/fake_llama_server.py here (the stub's answers, a process of its own)."""
    wrapper = tmp_path / "llama-server"
    fake = Path(__file__).parents[1] / "support" / "fake_llama_server.py"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
    wrapper.chmod(0o755)
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    settings = JudgeSettings(base_url=None, mode="item", local_server_binary=wrapper,
                             local_model_file=tmp_path / "model.gguf")  # fmt: skip
    item = make_item(question, "Keep a min-heap of size k: O(n log k). Metrics: recall, MRR, nDCG.")
    judged = {}
    for name, backend in (("langchain", EmbeddedLangChain(settings)), ("local", LocalChat(settings))):
        try:
            assert backend.server is None, "nothing starts before the first call"
            judge = Judge(backend, settings.model_copy(update={"cache_dir": tmp_path / name}))
            [judged[name]] = judge.judge_items([(question, item)])
            process = backend.server.process
        finally:
            backend.close()
        assert process.poll() is not None, "the server stops with the judge"
    assert judged["langchain"].awards == judged["local"].awards
    assert {c.model for c in judged["langchain"].calls} == {f"openai:{MODEL_NAME}"}
    assert {c.model for c in judged["local"].calls} == {MODEL_NAME}
