"""Progress of a running round: each judged item reports to the round's `RoundProgress` as it is judged,
batches report the rest of their items when they finish, and the judges' counters are read live, for the
CLI's bar (a terminal) or its progress lines (a log).

Only in-process task runners (threads) are handed the round's progress; on Dask the counts stay at the
start and the Prefect UI shows the progress instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
        """Items per second so far (None before the first item is done)."""
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
        pace = f"{rate:.2f} items/s, ETA {_duration(self.eta_s or 0.0)}" if rate else "rate: after the first item"
        calls_rate = f" ({self.judge_calls / self.elapsed_s:.2f}/s)" if self.judge_calls and self.elapsed_s > 0 else ""
        return (
            f"scoring: {self.items_done}/{self.items} items{share}, "
            f"{self.submissions_done}/{self.submissions} submissions; {pace}; "
            f"judge requests: {self.judge_calls}{calls_rate}; "
            f"errors so far: {self.unscored} unscored item(s), {self.judge_failures} of {self.judge_calls} "
            f"judge request(s) failed; elapsed {_duration(self.elapsed_s)}"
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class RoundProgress:
    """One round's progress: batches report here when they finish, and their judges' counters are read
    live. The caller makes one per round and hands it to the flow (`run_round(progress=...)`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, int], None]] = []
        self._started = time.monotonic()
        self._submissions = self._submissions_done = self._items = self._items_done = self._unscored = 0
        self._calls_closed = self._failures_closed = 0
        self._watched: list[StatsLike] = []
        self._judged: set[tuple[str, str]] = set()

    def __reduce__(self) -> tuple[type[RoundProgress], tuple[()]]:
        """A copy in another process starts empty: Prefect sends the flow's parameters, this among them, with
        every task it hands to Dask, and progress is counted in the process that made it.
        """
        return RoundProgress, ()

    @contextmanager
    def listen(self, callback: Callable[[str, int], None]) -> Iterator[None]:
        """Receive ("start", total items) once, then ("advance", n items) per finished batch, while the block
        runs.
        """
        with self._lock:
            self._listeners.append(callback)
        try:
            yield
        finally:
            with self._lock:
                self._listeners.remove(callback)

    def _emit(self, event: str, n: int) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for callback in listeners:
            callback(event, n)

    def start(self, submissions: int, items: int) -> None:
        """Announce the round's size; the clock starts here."""
        with self._lock:
            self._started = time.monotonic()
            self._submissions, self._items = submissions, items
            self._submissions_done = self._items_done = self._unscored = 0
            self._calls_closed = self._failures_closed = 0
            self._judged.clear()
        self._emit("start", items)

    def judged(self, item: tuple[str, str]) -> None:
        """Announce an item judged, by (submission id, question id), as it is: it counts as done once (a
        retried judging pass announces it again); its batch does not count it again.
        """
        with self._lock:
            if item in self._judged:
                return
            self._judged.add(item)
            self._items_done += 1
        self._emit("advance", 1)

    def advance(self, submissions: int, items: int, unscored: int) -> None:
        """Announce that a batch is scored: its submissions, its items not announced as judged already, and
        how many of all its items have no points.
        """
        with self._lock:
            self._submissions_done += submissions
            self._items_done += items
            self._unscored += unscored
        self._emit("advance", items)

    @contextmanager
    def watch(self, stats: StatsLike) -> Iterator[None]:
        """Count a judge's calls live while a batch runs (its totals are kept when the block ends)."""
        with self._lock:
            self._watched.append(stats)
        try:
            yield
        finally:
            with self._lock:
                self._watched.remove(stats)
                self._calls_closed += stats.calls + stats.cache_hits
                self._failures_closed += stats.failures

    def snapshot(self) -> Snapshot:
        """The round's progress now."""
        with self._lock:
            return Snapshot(
                submissions=self._submissions,
                submissions_done=self._submissions_done,
                items=self._items,
                items_done=self._items_done,
                unscored=self._unscored,
                judge_calls=self._calls_closed + sum(w.calls + w.cache_hits for w in self._watched),
                judge_failures=self._failures_closed + sum(w.failures for w in self._watched),
                elapsed_s=time.monotonic() - self._started,
            )

    @contextmanager
    def lines(self, write: Callable[[str], None], every_s: float) -> Iterator[None]:
        """Write `snapshot().line()` every `every_s` seconds while the block runs (for a log, not a terminal)."""
        done = threading.Event()

        def loop() -> None:
            while not done.wait(every_s):
                write(self.snapshot().line())

        thread = threading.Thread(target=loop, name="progress-lines", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
