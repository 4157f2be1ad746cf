"""Patience with an endpoint that stops answering: retried within the budget, then given up for the round.

The clock and the sleep are fakes (the budget is minutes in production); the errors are the SDK's own,
raised the way OpenAIChat raises them, so `transient` is tested on what it will really see.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from pipeline.judge import ChatCallError
from pipeline.judge._outage import JudgeUnavailable, Patience, PatientChat, transient

REQUEST = httpx.Request("POST", "http://judge.test/v1/chat/completions")


def _raised_from(error: Exception) -> ChatCallError:
    """A ChatCallError raised inside an `except` of the SDK's error, as OpenAIChat does it."""
    try:
        try:
            raise error
        except Exception:
            raise ChatCallError("call failed") from None
    except ChatCallError as wrapped:
        return wrapped


def _status(code: int) -> openai.APIStatusError:
    return openai.APIStatusError("status", response=httpx.Response(code, request=REQUEST), body=None)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (openai.APIConnectionError(request=REQUEST), True),
        (openai.APITimeoutError(request=REQUEST), True),
        (_status(503), True),
        (_status(429), True),
        (_status(400), False),
        (_status(401), False),
        (ValueError("no JSON"), False),
    ],
)
def test_only_transport_failures_are_transient(error, expected):
    assert transient(_raised_from(error)) is expected


def test_a_bad_reply_without_an_sdk_cause_is_not_transient():
    assert not transient(ChatCallError("reply cut off at max_tokens=5"))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _patience(clock: Clock, budget_s: float = 60) -> Patience:
    return Patience("http://judge.test/v1", budget_s, clock=clock, sleep=clock.sleep)


def _failing(clock: Clock, outcomes: list[object], cost_s: float = 1.0):
    """An attempt that takes `cost_s` and fails (or answers) as `outcomes` says, one per call."""
    calls = []

    def attempt() -> object:
        calls.append(clock.now)
        clock.now += cost_s
        outcome = outcomes.pop(0) if outcomes else "answer"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return attempt, calls


def test_transient_failures_are_sent_again_with_growing_backoff_until_one_answers():
    clock = Clock()
    down = _raised_from(openai.APIConnectionError(request=REQUEST))
    attempt, calls = _failing(clock, [down, down, down, "answer"])
    assert _patience(clock).call(attempt) == "answer"
    assert len(calls) == 4
    assert clock.sleeps[0] < clock.sleeps[1] < clock.sleeps[2]


def test_an_endpoint_silent_past_the_budget_is_given_up_for_every_later_call():
    clock = Clock()
    patience = _patience(clock, budget_s=30)
    down = _raised_from(openai.APIConnectionError(request=REQUEST))
    attempt, calls = _failing(clock, [down] * 100)
    with pytest.raises(JudgeUnavailable, match=r"^judge unavailable: no answer from http://judge.test/v1 for 30 s"):
        patience.call(attempt)
    assert 30 <= clock.now <= 30 + 1.0 + 1e-9  # stops within one attempt of the budget
    tried = len(calls)
    with pytest.raises(JudgeUnavailable):
        patience.call(attempt)
    assert len(calls) == tried  # given up: later calls fail at once, without trying


def test_a_request_of_its_own_that_fails_is_not_retried():
    clock = Clock()
    attempt, calls = _failing(clock, [_raised_from(_status(400))])
    with pytest.raises(ChatCallError, match="call failed") as caught:
        _patience(clock).call(attempt)
    assert not isinstance(caught.value, JudgeUnavailable)
    assert len(calls) == 1


def test_a_request_that_keeps_failing_while_others_are_answered_fails_alone():
    """The endpoint answers other calls (its last answer is recent): this request is not an outage."""
    clock = Clock()
    patience = _patience(clock, budget_s=10)
    server_error = _raised_from(_status(500))

    def attempt() -> object:
        clock.now += 1.0
        patience.call(lambda: "another call's answer")  # someone else is served meanwhile
        raise server_error

    with pytest.raises(ChatCallError) as caught:
        patience.call(attempt)
    assert not isinstance(caught.value, JudgeUnavailable)
    assert patience.unavailable is None


def test_a_request_in_flight_when_the_endpoint_dies_waits_for_the_outage_not_its_own_budget():
    """Sent before the endpoint's last answer, failing after it: an outage (judge_unavailable), not an
    own failure — the request's age must not count against it once nobody is answered any more.
    """
    clock = Clock()
    patience = _patience(clock, budget_s=10)
    down = _raised_from(openai.APIConnectionError(request=REQUEST))
    first = [True]

    def attempt() -> object:
        if first[0]:
            first[0] = False
            clock.now += 5.0
            patience.call(lambda: "the last answer before the endpoint died")
            clock.now += 1.0
        else:
            clock.now += 0.5
        raise down

    with pytest.raises(JudgeUnavailable):
        patience.call(attempt)
    assert patience.unavailable is not None


def test_patient_chat_sends_every_method_through_the_patience_and_passes_the_rest():
    clock = Clock()
    down = _raised_from(openai.APIConnectionError(request=REQUEST))

    class Backend:
        model = "m"
        failures = [down, down]

        def complete(self, messages, **kwargs):
            if self.failures:
                raise self.failures.pop()
            return f"completed {messages}"

        def distribution(self, messages, **kwargs):
            return f"distribution {messages}"

        def single_tokens(self, labels):
            return []

    chat = PatientChat(Backend(), _patience(clock))
    assert chat.model == "m"
    assert chat.complete("hi", seed=0) == "completed hi"
    assert len(clock.sleeps) == 2
    assert chat.distribution("x", labels=["0", "1"], seed=0) == "distribution x"
    assert chat.single_tokens(["0"]) == []
