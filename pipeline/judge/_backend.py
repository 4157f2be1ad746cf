"""The chat endpoint behind the judge: one OpenAI-compatible path (OpenAI, vLLM, DeepSeek, llama-server).

The openai SDK does the transport: its timeout, and its retries with exponential backoff and jitter
on 408/409/429/5xx, timeouts and dropped connections. A `ChatBackend` is the judge's only view of it,
so the checking logic is tested with a fake and the transport with a fake HTTP server.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import openai
from pydantic import BaseModel, ConfigDict


class ChatReply(BaseModel):
    """One completion: the raw text and what it cost."""

    model_config = ConfigDict(frozen=True)

    content: str
    tokens_in: int = 0
    tokens_out: int = 0
    cached_tokens: int | None = None
    """Prompt tokens the server took from its prompt cache, when it says."""
    evaluated_tokens: int | None = None
    """Prompt tokens the server computed for this call (llama-server's `timings.prompt_n`), when it says."""
    latency_ms: float = 0.0


class LabelReply(BaseModel):
    """One decoded token read as a distribution over the allowed labels, and what it cost."""

    model_config = ConfigDict(frozen=True)

    probabilities: dict[str, float]
    """Every allowed label's probability, renormalised over the allowed labels (they add up to 1)."""
    coverage: float
    """The allowed labels' share of the probability mass the endpoint reported, before renormalising."""
    decoded: str = ""
    tokens_in: int = 0
    cached_tokens: int | None = None
    evaluated_tokens: int | None = None
    """Prompt tokens the server computed for this call (llama-server's `timings.prompt_n`), when it says."""
    latency_ms: float = 0.0


class ChatCallError(RuntimeError):
    """A call failed after the retries; the message says how (HTTP status, timeout, connection)."""


class NoLogprobsError(ChatCallError):
    """The endpoint does not return token log-probabilities: only the generated-verdict path can use it."""


TOP_LOGPROBS = 20
"""llama-server's and OpenAI's upper bound on top_logprobs."""


def label_grammar(labels: Sequence[str]) -> str:
    """A GBNF grammar whose only sentences are the labels."""
    return "root ::= " + " | ".join(f'"{label}"' for label in labels)


def renormalise(top: list[tuple[str, float]], labels: Sequence[str]) -> tuple[dict[str, float] | None, float]:
    """Probabilities of `labels` from (token, logprob) pairs, renormalised; None when no label is there.

    A token counts for a label when it is the label up to surrounding whitespace (" 3" and "3" are two
    tokens for one label): their probabilities add up. Labels absent from the list get 0.
    """
    mass = dict.fromkeys(labels, 0.0)
    total = 0.0
    for token, logprob in top:
        probability = math.exp(logprob) if math.isfinite(logprob) else 0.0
        total += probability
        label = token.strip()
        if label in mass:
            mass[label] += probability
    kept = sum(mass.values())
    if kept <= 0:
        return None, 0.0
    return {label: p / kept for label, p in mass.items()}, kept / total if total > 0 else 0.0


class ChatBackend(Protocol):
    """What the judge needs from a chat model."""

    model: str

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
        """Return a reply constrained to `schema`, or raise ChatCallError."""
        ...

    def distribution(
        self, messages: list[dict[str, str]], *, labels: Sequence[str], seed: int, slot: int | None = None
    ) -> LabelReply:
        """Return one token's distribution over `labels`; NoLogprobsError where the endpoint has none.

        `slot`: the server slot to evaluate it in (llama-server's `id_slot`), where the endpoint has slots.
        """
        ...


def _cached_tokens(body: dict[str, Any]) -> int | None:
    details = (body.get("usage") or {}).get("prompt_tokens_details") or {}
    if details.get("cached_tokens") is not None:
        return int(details["cached_tokens"])
    timings = body.get("timings") or {}
    return int(timings["cache_n"]) if "cache_n" in timings else None


def _evaluated_tokens(body: dict[str, Any], tokens_in: int, cached: int | None) -> int | None:
    """Prompt tokens computed for the call: llama-server says (`prompt_n`); elsewhere prompt minus cached."""
    timings = body.get("timings") or {}
    if "prompt_n" in timings:
        return int(timings["prompt_n"])
    return tokens_in - cached if cached is not None else None


def _server_root(base_url: str) -> str:
    return base_url.rstrip("/").removesuffix("/v1")


def llama_token_count(base_url: str, text: str) -> int | None:
    """How many tokens `text` is for a llama-server's model (its /tokenize); None when it does not say."""
    try:
        body = httpx.post(f"{_server_root(base_url)}/tokenize", json={"content": text}, timeout=30.0).json()
    except (httpx.HTTPError, ValueError):
        return None
    tokens = body.get("tokens") if isinstance(body, dict) else None
    return len(tokens) if isinstance(tokens, list) else None


def llama_slot_state(base_url: str, slot: int, action: str, filename: str) -> bool:
    """Save a llama-server slot's evaluated prompt to `filename`, or restore it from there
    (`/slots/{id}?action=save|restore`, under the server's --slot-save-path); whether the server did it.
    """
    try:
        reply = httpx.post(
            f"{_server_root(base_url)}/slots/{slot}", params={"action": action}, json={"filename": filename},
            timeout=120.0,
        )  # fmt: skip
    except httpx.HTTPError:
        return False
    return reply.status_code == 200


_SLOTS: dict[str, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def endpoint_slots(base_url: str, limit: int) -> threading.BoundedSemaphore:
    """One in-flight limit per endpoint for the whole process, shared by every Judge that talks to it.

    The flow runs several batches at once, each with its own Judge; without a shared limit their calls
    queue inside llama-server, and the queueing eats the client's timeout.
    """
    with _SLOTS_LOCK:
        if base_url not in _SLOTS:
            _SLOTS[base_url] = threading.BoundedSemaphore(limit)
        return _SLOTS[base_url]


_CLIENTS: dict[tuple[str, str, float, int], openai.OpenAI] = {}


def shared_client(base_url: str, api_key: str, timeout_s: float, max_retries: int) -> openai.OpenAI:
    """One SDK client (one connection pool) per endpoint and settings for the whole process.

    Every batch task opens a Judge; a client of its own costs CPU (its TLS context; docs/BENCHMARKS.md,
    "Orchestration overhead") and new connections. The SDK's client is thread-safe.
    """
    key = (base_url, api_key, timeout_s, max_retries)
    with _SLOTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = openai.OpenAI(
                base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries
            )
        return _CLIENTS[key]


class OpenAIChat:
    """ChatBackend over the openai SDK with `response_format` json_schema (strict)."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str,
        timeout_s: float,
        max_retries: int,
        extra_body: dict[str, Any] | None = None,
        http_client: httpx.Client | None = None,
        max_in_flight: int = 2,
        grammar: bool = False,
    ):
        self.model = model
        self.extra_body = extra_body
        self.grammar = grammar
        """The endpoint is llama-server: GBNF grammars, cache_prompt and /tokenize."""
        self._slots = endpoint_slots(base_url, max_in_flight)
        if http_client is not None:
            self._client = openai.OpenAI(
                base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries, http_client=http_client
            )
        else:
            self._client = shared_client(base_url, api_key, timeout_s, max_retries)

    def _post(self, request: dict[str, Any]) -> dict[str, Any]:
        """POST one chat completion; the parsed JSON body, or ChatCallError saying what went wrong.

        The SDK's low-level post: its transport, retries and error types, without the typed layer of
        chat.completions.create, which walked every request through a TypedDict transform and every
        reply through pydantic models (a third of the client's CPU per call with an instant server).
        """
        request = {"model": self.model, **request, **(self.extra_body or {})}
        try:
            with self._slots:
                response = self._client.post("/chat/completions", body=request, cast_to=httpx.Response)
                body = response.json()
        except openai.APIStatusError as error:
            raise ChatCallError(
                f"HTTP {error.status_code} from {self._client.base_url}: {error.message}"
            ) from None
        except openai.APITimeoutError:
            raise ChatCallError(
                f"timed out after {self._client.timeout} s ({self._client.base_url})"
            ) from None
        except openai.APIConnectionError as error:
            raise ChatCallError(f"cannot reach {self._client.base_url}: {error}") from None
        except ValueError:
            raise ChatCallError(f"the endpoint answered with no JSON: {response.text[:120]!r}") from None
        if not isinstance(body, dict) or not body.get("choices"):
            raise ChatCallError("the endpoint returned no choices")
        return body

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
        """One chat completion held to `schema`."""
        started = time.perf_counter()
        body = self._post(
            {
                "messages": messages,
                "temperature": temperature,
                "seed": seed,
                "max_tokens": max_tokens,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": schema_name, "schema": schema, "strict": True},
                },
            }
        )
        latency_ms = (time.perf_counter() - started) * 1000
        choice = body["choices"][0]
        content = (choice.get("message") or {}).get("content") or ""
        if choice.get("finish_reason") == "length":
            raise ChatCallError(f"reply cut off at max_tokens={max_tokens}: {content[-80:]!r}")
        usage = body.get("usage") or {}
        tokens_in, cached = int(usage.get("prompt_tokens") or 0), _cached_tokens(body)
        return ChatReply(
            content=content,
            tokens_in=tokens_in,
            tokens_out=int(usage.get("completion_tokens") or 0),
            cached_tokens=cached,
            evaluated_tokens=_evaluated_tokens(body, tokens_in, cached),
            latency_ms=latency_ms,
        )

    def distribution(
        self, messages: list[dict[str, str]], *, labels: Sequence[str], seed: int, slot: int | None = None
    ) -> LabelReply:
        """One decoded token over `labels`; its probabilities read back from `top_logprobs`.

        A loopback llama-server also gets a GBNF grammar of the labels, so the decoded token is one of
        them; its reported probabilities are the softmax before the grammar, renormalised here. A remote
        endpoint gets no grammar (OpenAI has none): the labels' share of the top log-probabilities is
        renormalised the same way, and `coverage` says how much of the mass they held.
        """
        started = time.perf_counter()
        request: dict[str, Any] = {
            "messages": messages,
            "temperature": 0.0,
            "seed": seed,
            "max_tokens": 1,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }
        if self.grammar:
            request["grammar"] = label_grammar(labels)
            request["cache_prompt"] = True
            if slot is not None:
                request["id_slot"] = slot
        body = self._post(request)
        latency_ms = (time.perf_counter() - started) * 1000
        choice = body["choices"][0]
        content = ((choice.get("message") or {}).get("content") or "").strip()
        top = ((choice.get("logprobs") or {}).get("content") or [{}])[0].get("top_logprobs")
        if not top:
            raise NoLogprobsError(
                f"{self._client.base_url} returned no top_logprobs: it cannot be read as a distribution"
            )
        probabilities, coverage = renormalise(
            [(str(entry.get("token", "")), float(entry.get("logprob", -math.inf))) for entry in top], labels
        )
        if probabilities is None:
            raise ChatCallError(
                f"none of the labels {', '.join(labels)} among the top {len(top)} tokens (decoded {content!r})"
            )
        usage = body.get("usage") or {}
        tokens_in, cached = int(usage.get("prompt_tokens") or 0), _cached_tokens(body)
        return LabelReply(
            probabilities=probabilities,
            coverage=coverage,
            decoded=content,
            tokens_in=tokens_in,
            cached_tokens=cached,
            evaluated_tokens=_evaluated_tokens(body, tokens_in, cached),
            latency_ms=latency_ms,
        )

    def single_tokens(self, labels: Sequence[str]) -> list[str] | None:
        """The labels that llama-server's /tokenize splits into more than one token; None where it has none.

        The distribution is read off one decoded token, so a label of two tokens could never be read.
        """
        if not self.grammar:
            return None
        root = _server_root(str(self._client.base_url))
        split = []
        for label in labels:
            try:
                reply = httpx.post(f"{root}/tokenize", json={"content": label}, timeout=10.0)
                tokens = reply.json().get("tokens")
            except (httpx.HTTPError, ValueError, AttributeError):
                return None
            if not isinstance(tokens, list) or len(tokens) != 1:
                split.append(label)
        return split
