"""Test helpers for the judge: a fake chat model at the backend boundary and reply builders."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from pipeline.ingest import Item
from pipeline.judge import ChatCallError, ChatReply, LabelReply, NoLogprobsError
from rubric_schema import Question

Responder = Callable[[list[dict[str, str]], dict[str, Any]], str]
Distributor = Callable[[list[dict[str, str]], tuple[str, ...]], dict[str, float]]


class FakeChat:
    """A ChatBackend that answers from a function and records every call."""

    def __init__(
        self,
        respond: Responder,
        *,
        model: str = "fake-model",
        delay_s: float = 0.0,
        distribute: Distributor | None = None,
    ):
        self.model = model
        self.respond = respond
        self.distribute = distribute
        self.delay_s = delay_s
        self.calls: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def complete(self, messages, *, schema, schema_name, temperature, seed, max_tokens) -> ChatReply:
        """Answer like a model would, recording the call."""
        with self._lock:
            self.calls.append(
                {"messages": messages, "schema": schema, "temperature": temperature, "seed": seed}
            )
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            content = self.respond(messages, schema)
        finally:
            with self._lock:
                self.in_flight -= 1
        return ChatReply(content=content, tokens_in=100, tokens_out=20, latency_ms=1.0)

    def distribution(self, messages, *, labels, seed) -> LabelReply:
        """Answer one token's distribution like a logprob endpoint would; none without `distribute`."""
        with self._lock:
            self.calls.append({"messages": messages, "labels": tuple(labels), "seed": seed})
        if self.distribute is None:
            raise NoLogprobsError("fake endpoint: no logprobs")
        probabilities = self.distribute(messages, tuple(labels))
        return LabelReply(probabilities=probabilities, coverage=1.0, tokens_in=100, latency_ms=1.0)


def answer_of(messages: list[dict[str, str]]) -> str:
    """Return the answer block of a rendered prompt (what the fake model 'reads')."""
    user = messages[-1]["content"]
    return user.rsplit("<answer>\n", 1)[1].rsplit("\n</answer>", 1)[0]


def verdicts(by_criterion: dict[str, dict[str, Any]]) -> str:
    """Build an item-mode reply: criterion id → {evidence, rationale, points} or {mentions, rationale}."""
    reply = {}
    for cid, verdict in by_criterion.items():
        defaults = {"rationale": ""} if "mentions" in verdict else {"evidence": "", "rationale": ""}
        reply[cid] = {**defaults, **verdict}
    return json.dumps(reply)


def failing(message: str) -> Responder:
    def respond(messages, schema):
        raise ChatCallError(message)

    return respond


def make_item(question: Question, text: str, submission_id: str = "s1") -> Item:
    return Item(submission_id=submission_id, question_id=question.id, text=text)


def peaked(label: str, p: float = 1.0) -> Distributor:
    """A distributor putting `p` on one label (the top one where the scale has no such label) and the rest
    spread evenly over the others.
    """

    def distribute(messages, labels):
        chosen = label if label in labels else labels[-1]
        rest = (1.0 - p) / (len(labels) - 1)
        return {x: (p if x == chosen else rest) for x in labels}

    return distribute
