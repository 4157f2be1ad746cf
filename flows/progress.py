"""Progress of the running round: batches report here when they finish, and their judges' counters are
read live, for the CLI's bar (a terminal) or its progress lines (a log).

Only in-process task runners (threads) reach this module; on Dask the counts stay at the start and the
Prefect UI shows the progress instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol


class StatsLike(Protocol):
    """A judge's live counters (pipeline.judge.JudgeStats)."""

    calls: int
    cache_hits: int
    failures: int


@dataclass(frozen=True)
class Snapshot:
    """Where the round stands: what an operator's log line says."""

    submissions: int
    submissions_done: int
    items: int
    items_done: int
    unscored: int
    """Items scored so far that have no points (a failed judge call, a missing code run)."""
    judge_calls: int
    """Judge requests so far: sent to the model (failed ones too), or answered from the cache."""
    judge_failures: int
    elapsed_s: float

    @property
    def rate(self) -> float | None:
        """Items per second so far (None before the first batch ends)."""
        return self.items_done / self.elapsed_s if self.items_done and self.elapsed_s > 0 else None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far."""
        rate = self.rate
        return (self.items - self.items_done) / rate if rate else None

    def line(self) -> str:
        """One log line: items done/total, rate, ETA, errors so far."""
        if not self.submissions:
            return f"scoring: starting (Prefect, reading the round); elapsed {_duration(self.elapsed_s)}"
        share = f" ({self.items_done / self.items:.0%})" if self.items else ""
        rate = self.rate
        pace = f"{rate:.2f} items/s, ETA {_duration(self.eta_s or 0.0)}" if rate else "rate: after the first batch"
        return (
            f"scoring: {self.items_done}/{self.items} items{share}, "
            f"{self.submissions_done}/{self.submissions} submissions; {pace}; "
            f"errors so far: {self.unscored} unscored item(s), {self.judge_failures} of {self.judge_calls} "
            f"judge request(s) failed; elapsed {_duration(self.elapsed_s)}"
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


@dataclass
class _State:
    started: float = field(default_factory=time.monotonic)
    submissions: int = 0
    submissions_done: int = 0
    items: int = 0
    items_done: int = 0
    unscored: int = 0
    calls_closed: int = 0
    failures_closed: int = 0
    watched: list[StatsLike] = field(default_factory=list)


_lock = threading.Lock()
_listeners: list[Callable[[str, int], None]] = []
_state = _State()


@contextmanager
def listen(callback: Callable[[str, int], None]) -> Iterator[None]:
    """Receive ("start", total items) once, then ("advance", n items) per finished batch, while the block runs."""
    with _lock:
        _listeners.append(callback)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(callback)


def _emit(event: str, n: int) -> None:
    with _lock:
        listeners = list(_listeners)
    for callback in listeners:
        callback(event, n)


def start(submissions: int, items: int) -> None:
    """Announce the round's size; the clock starts here."""
    global _state
    with _lock:
        _state = _State(submissions=submissions, items=items)
    _emit("start", items)


def advance(submissions: int, items: int, unscored: int) -> None:
    """Announce that a batch is scored: its submissions, its items and how many of them have no points."""
    with _lock:
        _state.submissions_done += submissions
        _state.items_done += items
        _state.unscored += unscored
    _emit("advance", items)


@contextmanager
def watch(stats: StatsLike) -> Iterator[None]:
    """Count a judge's calls live while a batch runs (its totals are kept when the block ends)."""
    with _lock:
        state = _state
        state.watched.append(stats)
    try:
        yield
    finally:
        with _lock:
            state.watched.remove(stats)
            state.calls_closed += stats.calls + stats.cache_hits
            state.failures_closed += stats.failures


def snapshot() -> Snapshot:
    """The round's progress now."""
    with _lock:
        s = _state
        return Snapshot(
            submissions=s.submissions,
            submissions_done=s.submissions_done,
            items=s.items,
            items_done=s.items_done,
            unscored=s.unscored,
            judge_calls=s.calls_closed + sum(w.calls + w.cache_hits for w in s.watched),
            judge_failures=s.failures_closed + sum(w.failures for w in s.watched),
            elapsed_s=time.monotonic() - s.started,
        )


@contextmanager
def lines(write: Callable[[str], None], every_s: float) -> Iterator[None]:
    """Write `snapshot().line()` every `every_s` seconds while the block runs (for a log, not a terminal)."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(every_s):
            write(snapshot().line())

    thread = threading.Thread(target=loop, name="progress-lines", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
