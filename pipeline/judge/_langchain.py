"""ChatBackend over LangChain's chat models: any provider `init_chat_model("provider:model")` knows
(OpenAI, Anthropic, Google, Bedrock, Azure, Mistral, Ollama, …) behind the same judge.

Everything else stays the judge's own: prompts, response schema, checks, cache, retries, concurrency
limit and injection screen. This file turns one judge request into one LangChain call: the verdict
through `with_structured_output` with the judge's JSON schema, and the one-token distribution through the
top log-probabilities where the provider returns them (OpenAI-compatible chat models do; the others raise
NoLogprobsError and the judge falls back to generated verdicts). Needs the `langchain` extra, plus the
provider's integration package (`gradeflow[anthropic]`, …).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.judge._backend import (
    TOP_LOGPROBS,
    ChatCallError,
    ChatReply,
    LabelReply,
    NoLogprobsError,
    endpoint_slots,
    label_grammar,
    renormalise,
)
from pipeline.judge._local import LocalChat, LocalServer
from pipeline.judge._settings import JudgeSettings

try:
    from langchain.chat_models import init_chat_model
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
except ImportError as error:  # an optional extra: say which one
    raise ImportError(
        "the LangChain judge needs the langchain extra: pip install 'gradeflow[langchain]' "
        "(and the provider's package, e.g. 'gradeflow[anthropic]')"
    ) from error

ModelFactory = Callable[..., BaseChatModel]
"""Builds the chat model for given standard parameters (temperature, max_tokens); tests pass a fake."""


def _accepts(model: BaseChatModel, field: str) -> bool:
    """Whether the provider's chat model has this request field (seed, logprobs are not standard)."""
    return field in type(model).model_fields


def _takes_strict(model: BaseChatModel) -> bool:
    """Whether the provider's structured output can be held strictly to the schema (OpenAI's can)."""
    return "strict" in inspect.signature(type(model).with_structured_output).parameters


def _cut_off(message: AIMessage) -> bool:
    """The provider stopped at max_tokens (OpenAI's finish_reason, Anthropic's stop_reason)."""
    meta = message.response_metadata or {}
    return meta.get("finish_reason") == "length" or meta.get("stop_reason") == "max_tokens"


class LangChainChat:
    """ChatBackend on `init_chat_model(provider_model)`; `model` ("provider:model") is the provenance."""

    def __init__(
        self,
        provider_model: str,
        *,
        timeout_s: float,
        max_retries: int,
        max_in_flight: int = 2,
        base_url: str | None = None,
        api_key: str | None = None,
        grammar: bool = False,
        factory: ModelFactory | None = None,
    ):
        if ":" not in provider_model:
            raise ValueError(f"expected provider:model (e.g. openai:gpt-4o-mini), not {provider_model!r}")
        self.model = provider_model
        self.grammar = grammar
        """The endpoint is llama-server: the distribution's label grammar and prompt cache apply."""
        connection: dict[str, Any] = {"timeout": timeout_s, "max_retries": max_retries}
        connection |= {"base_url": base_url} if base_url else {}
        connection |= {"api_key": api_key} if api_key else {}
        self._factory = factory or (lambda **params: init_chat_model(provider_model, **connection, **params))
        self._models: dict[tuple[float, int], BaseChatModel] = {}
        self._slots = endpoint_slots(base_url or provider_model, max_in_flight)

    def _chat(self, temperature: float, max_tokens: int, seed: int) -> BaseChatModel:
        """The chat model for one request. temperature and max_tokens are LangChain's standard parameters,
        which every provider maps to its own request: one model per pair, built once (a client costs a
        connection pool). The seed is no standard parameter: set on a shallow copy (sharing the client)
        where the provider has one, as `bind` would be lost under `with_structured_output`.
        """
        key = (temperature, max_tokens)
        if key not in self._models:
            self._models[key] = self._factory(temperature=temperature, max_tokens=max_tokens)
        model = self._models[key]
        return model.model_copy(update={"seed": seed}) if _accepts(model, "seed") else model

    def _invoke(self, runnable: Any, messages: list[dict[str, str]]) -> Any:
        try:
            with self._slots:
                return runnable.invoke(messages)
        except Exception as error:  # each provider raises its own SDK's errors
            raise ChatCallError(f"{self.model}: {type(error).__name__}: {error}") from None

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        schema: dict[str, Any],
        schema_name: str,
        temperature: float,
        seed: int,
        max_tokens: int,
    ) -> ChatReply:
        """One verdict held to `schema` by the provider's structured output; the JSON text of what it parsed."""
        model = self._chat(temperature, max_tokens, seed)
        strict = {"strict": True} if _takes_strict(model) else {}
        structured = model.with_structured_output({"title": schema_name, **schema}, include_raw=True, **strict)
        started = time.perf_counter()
        result = self._invoke(structured, messages)
        latency_ms = (time.perf_counter() - started) * 1000
        raw: AIMessage = result["raw"]
        parsed = result.get("parsed")
        # An unparsed reply goes to the judge as text, which reports it as a reply that did not parse.
        content = json.dumps(parsed, ensure_ascii=False) if parsed is not None else raw.text
        if _cut_off(raw):
            raise ChatCallError(f"reply cut off at max_tokens={max_tokens}: {content[-80:]!r}")
        usage = raw.usage_metadata or {}
        return ChatReply(
            content=content,
            tokens_in=int(usage.get("input_tokens") or 0),
            tokens_out=int(usage.get("output_tokens") or 0),
            cached_tokens=(usage.get("input_token_details") or {}).get("cache_read"),
            latency_ms=latency_ms,
        )

    def distribution(
        self, messages: list[dict[str, str]], *, labels: Sequence[str], seed: int, slot: int | None = None
    ) -> LabelReply:
        """One decoded token over `labels`, read from the provider's top log-probabilities (OpenAIChat's
        reading, through LangChain); NoLogprobsError for a provider that has none. `slot`: llama-server's.
        """
        model = self._chat(0.0, 1, seed)
        if not _accepts(model, "logprobs"):
            raise NoLogprobsError(f"{self.model}: {type(model).__name__} returns no token log-probabilities")
        options: dict[str, Any] = {"logprobs": True, "top_logprobs": TOP_LOGPROBS}
        if self.grammar:
            options["extra_body"] = {"grammar": label_grammar(labels), "cache_prompt": True}
            if slot is not None:
                options["extra_body"]["id_slot"] = slot
        started = time.perf_counter()
        reply: AIMessage = self._invoke(model.bind(**options), messages)
        latency_ms = (time.perf_counter() - started) * 1000
        top = (((reply.response_metadata or {}).get("logprobs") or {}).get("content") or [{}])[0].get("top_logprobs")
        if not top:
            raise NoLogprobsError(f"{self.model} returned no top_logprobs: it cannot be read as a distribution")
        probabilities, coverage = renormalise(
            [(str(entry.get("token", "")), float(entry.get("logprob", float("-inf")))) for entry in top], labels
        )
        if probabilities is None:
            raise ChatCallError(
                f"none of the labels {', '.join(labels)} among the top {len(top)} tokens (decoded {reply.text!r})"
            )
        usage = reply.usage_metadata or {}
        return LabelReply(
            probabilities=probabilities,
            coverage=coverage,
            decoded=reply.text.strip(),
            tokens_in=int(usage.get("input_tokens") or 0),
            cached_tokens=(usage.get("input_token_details") or {}).get("cache_read"),
            latency_ms=latency_ms,
        )

    def single_tokens(self, labels: Sequence[str]) -> None:
        """LangChain has no tokenizer call, so the judge cannot check that each label is one token here."""
        return None


class EmbeddedLangChain(LocalChat):
    """The embedded llama-server (started on the first call, supervised and restarted as for the local
    judge) asked through LangChain's ChatOpenAI instead of the openai SDK: `--judge langchain` offline.
    """

    def __init__(self, settings: JudgeSettings):
        super().__init__(settings)
        self.model = f"openai:{self.model}"
        self._langchain: LangChainChat | None = None

    def _client(self, server: LocalServer) -> LangChainChat:  # type: ignore[override]
        with self._lock:
            if self._langchain is None:  # the URL survives restarts: one client for the life of the chat
                self._langchain = LangChainChat(
                    f"openai:{server.model}", base_url=server.base_url, api_key="local",
                    timeout_s=self.settings.local_timeout_s, max_retries=self.settings.max_retries,
                    max_in_flight=self.settings.concurrency, grammar=True,
                )  # fmt: skip
            return self._langchain
