"""The openai-SDK backend against a fake HTTP endpoint: request shape, retries, timeouts, errors."""

from __future__ import annotations

import json

import httpx
import pytest

from pipeline.judge import ChatCallError, OpenAIChat

SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "integer"}},
    "required": ["x"],
    "additionalProperties": False,
}


def completion(content: str = '{"x": 1}', finish_reason: str = "stop", **extra) -> dict:
    return {
        "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": finish_reason,
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 8, "total_tokens": 128},
        **extra,
    }  # fmt: skip


def backend(handler, *, max_retries: int = 2, timeout_s: float = 5.0) -> OpenAIChat:
    return OpenAIChat(
        base_url="http://judge.test/v1", model="m", api_key="k", timeout_s=timeout_s, max_retries=max_retries,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )  # fmt: skip


def call(chat: OpenAIChat):
    return chat.complete([{"role": "user", "content": "hi"}], schema=SCHEMA, schema_name="judgment",
                         temperature=0.0, seed=3, max_tokens=50)  # fmt: skip


def test_sends_a_strict_json_schema_and_reads_usage_and_prompt_cache():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=completion(timings={"cache_n": 100, "prompt_n": 20}))

    reply = call(backend(handler))
    body = seen[0]
    assert body["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "judgment", "schema": SCHEMA, "strict": True},
    }  # fmt: skip
    assert (body["temperature"], body["seed"], body["max_tokens"]) == (0.0, 3, 50)
    assert (reply.content, reply.tokens_in, reply.tokens_out, reply.cached_tokens) == (
        '{"x": 1}',
        120,
        8,
        100,
    )


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_rate_limits_and_server_errors_then_succeeds(status):
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 3:
            return httpx.Response(
                status, headers={"retry-after-ms": "5"}, json={"error": {"message": "busy"}}
            )
        return httpx.Response(200, json=completion())

    assert call(backend(handler, max_retries=2)).content == '{"x": 1}'
    assert len(attempts) == 3


def test_gives_up_after_the_retries_with_the_status_in_the_error():
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        return httpx.Response(500, headers={"retry-after-ms": "5"}, json={"error": {"message": "boom"}})

    with pytest.raises(ChatCallError, match="HTTP 500"):
        call(backend(handler, max_retries=2))
    assert len(attempts) == 3


def test_client_errors_are_not_retried():
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        return httpx.Response(400, json={"error": {"message": "bad schema"}})

    with pytest.raises(ChatCallError, match="HTTP 400"):
        call(backend(handler, max_retries=3))
    assert len(attempts) == 1


def test_timeouts_are_retried_then_reported():
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ChatCallError, match="timed out"):
        call(backend(handler, max_retries=1, timeout_s=0.5))
    assert len(attempts) == 2


def test_a_reply_cut_at_max_tokens_is_an_error_not_a_verdict():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion(content='{"x": ', finish_reason="length"))

    with pytest.raises(ChatCallError, match="cut off at max_tokens=50"):
        call(backend(handler))


@pytest.mark.parametrize(
    ("reply", "message"),
    [(httpx.Response(200, text="<html>proxy error</html>"), "no JSON"),
     (httpx.Response(200, json={"id": "c1", "choices": []}), "no choices")],
)  # fmt: skip
def test_a_reply_that_is_not_a_completion_is_an_error(reply, message):
    with pytest.raises(ChatCallError, match=message):
        call(backend(lambda request: reply))


def test_judges_of_one_endpoint_share_one_in_flight_limit() -> None:
    """Several batch tasks each open a Judge; together they may not queue more calls than the server has slots."""
    from pipeline.judge._backend import endpoint_slots

    first = endpoint_slots("http://127.0.0.1:9/v1", 2)
    assert endpoint_slots("http://127.0.0.1:9/v1", 5) is first
    assert first.acquire(blocking=False) and first.acquire(blocking=False)
    assert not first.acquire(blocking=False)
    first.release()
    first.release()
    assert endpoint_slots("http://127.0.0.1:10/v1", 2) is not first


def test_chats_on_one_endpoint_share_one_sdk_client_and_its_connections() -> None:
    def make(url: str, key: str = "k") -> OpenAIChat:
        return OpenAIChat(base_url=url, model="m", api_key=key, timeout_s=5, max_retries=1)

    first, second = make("http://judge-a.test/v1"), make("http://judge-a.test/v1")
    assert first._client is second._client
    assert make("http://judge-b.test/v1")._client is not first._client
    assert make("http://judge-a.test/v1", key="other")._client is not first._client
