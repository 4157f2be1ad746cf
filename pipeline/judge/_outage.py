"""Patience with a judge endpoint that stops answering: retries with backoff up to a time budget, then a
clean stop.

A call that fails for the transport (connection refused or dropped, timeout, 408/409/429/5xx) is sent
again with exponential backoff until `JudgeSettings.outage_budget_s` has passed since the endpoint last
answered. Past that the endpoint is declared unavailable for the rest of the round: this call and every
later one raise `JudgeUnavailable` at once, so a round whose judge is gone ends within about one budget
instead of waiting it out once per item. The judge records such a call as failed (never cached), the item
is left unscored with the kind `judge_unavailable`, and the round is reported incomplete: the next run
judges exactly those items.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import openai

from pipeline.judge._backend import ChatCallError

T = TypeVar("T")

UNAVAILABLE_PREFIX = "judge unavailable"
"""How a `JudgeUnavailable` message starts (the judge gives its failed calls the kind by the error's type)."""

_RETRY_STATUS = {408, 409, 429}


class JudgeUnavailable(ChatCallError):
    """The endpoint gave no answer for longer than the budget (or the embedded server could not be kept up)."""

    def __init__(self, detail: str):
        super().__init__(f"{UNAVAILABLE_PREFIX}: {detail}")


def transient(error: BaseException) -> bool:
    """Whether a failed call may succeed if sent again: the transport failed, not the request.

    `OpenAIChat` raises ChatCallError inside its `except openai...` blocks, so the SDK's error is the
    context; a bad reply (no JSON, cut off, wrong schema) has none and is the item's own failure.
    """
    cause = error.__cause__ or error.__context__
    if isinstance(cause, openai.APIStatusError):
        return cause.status_code in _RETRY_STATUS or cause.status_code >= 500
    return isinstance(cause, openai.APIConnectionError)  # APITimeoutError is one too


class Patience:
    """One endpoint's retry budget, shared by every call the process sends it."""

    def __init__(
        self,
        endpoint: str,
        budget_s: float,
        *,
        first_delay_s: float = 1.0,
        max_delay_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.endpoint = endpoint
        self.budget_s = budget_s
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._answered_at = clock()
        self.unavailable: str | None = None
        """Why the endpoint was given up on; set once, for the rest of the round."""
        self.retries = 0

    def _give_up(self, error: BaseException) -> JudgeUnavailable:
        with self._lock:
            if self.unavailable is None:
                self.unavailable = f"no answer from {self.endpoint} for {self.budget_s:g} s ({error})"
            return JudgeUnavailable(self.unavailable)

    def call(self, attempt: Callable[[], T]) -> T:
        """Run `attempt`; send it again on transient failures while the endpoint is within its budget."""
        started = self._clock()
        failing_since: float | None = None
        delay = self.first_delay_s
        while True:
            if self.unavailable is not None:
                raise JudgeUnavailable(self.unavailable)
            try:
                result = attempt()
            except ChatCallError as error:
                if isinstance(error, JudgeUnavailable) or not transient(error):
                    raise
                now = self._clock()
                failing_since = now if failing_since is None else failing_since
                silent_since = max(self._answered_at, started)
                if now - silent_since >= self.budget_s:
                    raise self._give_up(error) from None
                answered_others = self._answered_at >= failing_since
                if answered_others and now - failing_since >= self.budget_s:
                    raise  # the endpoint answers others while this request fails: the request is what fails
                with self._lock:
                    self.retries += 1
                self._sleep(min(delay * random.uniform(0.8, 1.2), max(0.0, silent_since + self.budget_s - now)))
                delay = min(delay * 2, self.max_delay_s)
                continue
            with self._lock:
                self._answered_at = self._clock()
            return result


_PATIENCE: dict[str, Patience] = {}
_PATIENCE_LOCK = threading.Lock()


def patience_for(endpoint: str, budget_s: float) -> Patience:
    """The process's Patience for one endpoint (every batch task of a round shares it)."""
    with _PATIENCE_LOCK:
        known = _PATIENCE.get(endpoint)
        if known is None or known.budget_s != budget_s:
            known = _PATIENCE[endpoint] = Patience(endpoint, budget_s)
        return known


def reset_outages() -> None:
    """Forget endpoints given up on: a new round tries them again."""
    with _PATIENCE_LOCK:
        _PATIENCE.clear()


class PatientChat:
    """A ChatBackend whose calls go through a Patience; everything else is the wrapped backend's."""

    def __init__(self, backend: Any, patience: Patience):
        self._backend = backend
        self.patience = patience
        self.model = backend.model

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        """The backend's `complete`, sent again on transient failures within the budget."""
        return self.patience.call(lambda: self._backend.complete(*args, **kwargs))

    def distribution(self, *args: Any, **kwargs: Any) -> Any:
        """The backend's `distribution`, sent again on transient failures within the budget."""
        return self.patience.call(lambda: self._backend.distribution(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)
