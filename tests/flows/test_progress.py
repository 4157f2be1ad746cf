"""Progress lines for a log (issue 13 item 3): items done/total, rate, ETA and errors, every few seconds."""

from __future__ import annotations

import pickle
import re
import time
from dataclasses import dataclass

from flows.progress import RoundProgress


@dataclass
class Stats:
    calls: int = 0
    cache_hits: int = 0
    failures: int = 0


def test_the_line_says_items_rate_eta_and_errors_so_far():
    progress = RoundProgress()
    progress.start(submissions=0, items=0)
    assert progress.snapshot().line().startswith("scoring: starting")  # Prefect's server is still coming up
    progress.start(submissions=4, items=40)
    stats = Stats(calls=12, cache_hits=3, failures=2)
    with progress.watch(stats):
        line = progress.snapshot().line()
        assert "0/40 items (0%), 0/4 submissions; rate: after the first item" in line
        assert "2 of 15 judge request(s) failed" in line  # counted live, before any batch ends
        progress.advance(submissions=2, items=20, unscored=1)
        snap = progress.snapshot()
    assert snap.items_done == 20 and snap.unscored == 1
    assert snap.rate is not None and snap.eta_s is not None
    assert abs(snap.eta_s - 20 / snap.rate) < 1e-6
    line = snap.line()
    assert re.search(r"20/40 items \(50%\), 2/4 submissions; [\d.]+ items/s, ETA \d+m\d\ds", line)
    assert "errors so far: 1 unscored item(s)" in line
    stats.calls += 5  # a judge that is closed no longer counts live, but what it did is kept
    assert progress.snapshot().judge_calls == 15


def test_lines_are_written_every_interval_until_the_block_ends():
    progress = RoundProgress()
    progress.start(submissions=1, items=3)
    written: list[str] = []
    with progress.lines(written.append, every_s=0.05):
        time.sleep(0.28)
    count = len(written)
    assert 3 <= count <= 6 and all(line.startswith("scoring: 0/3 items") for line in written)
    time.sleep(0.1)
    assert len(written) == count  # the writer stopped with the block


def test_listeners_get_the_item_totals_for_the_bar():
    progress = RoundProgress()
    events: list[tuple[str, int]] = []
    with progress.listen(lambda event, n: events.append((event, n))):
        progress.start(submissions=2, items=30)
        progress.advance(submissions=1, items=18, unscored=0)
    progress.advance(submissions=1, items=12, unscored=0)  # after the block: not heard
    assert events == [("start", 30), ("advance", 18)]


def test_an_item_judged_again_by_a_retried_pass_counts_once():
    progress = RoundProgress()
    events: list[tuple[str, int]] = []
    with progress.listen(lambda event, n: events.append((event, n))):
        progress.start(submissions=1, items=2)
        for _attempt in range(2):  # the judging pass failed after the first item and was retried
            progress.judged(("s1", "1.1"))
        progress.judged(("s1", "1.2"))
    assert events == [("start", 2), ("advance", 1), ("advance", 1)]
    assert "2/2 items (100%)" in progress.snapshot().line()


def test_two_rounds_keep_their_own_counts():
    """Progress is the round's own object, not the process's: a second round does not move the first."""
    first, second = RoundProgress(), RoundProgress()
    heard: list[tuple[str, int]] = []
    with first.listen(lambda event, n: heard.append((event, n))):
        first.start(submissions=1, items=18)
        second.start(submissions=2, items=36)
        second.advance(submissions=2, items=36, unscored=0)
    assert (first.snapshot().items, first.snapshot().items_done) == (18, 0)
    assert heard == [("start", 18)]


def test_a_copy_for_another_process_starts_empty():
    """Dask workers get the flow's parameters pickled: the round's progress must pickle, and stays here."""
    progress = RoundProgress()
    progress.start(submissions=2, items=36)
    with progress.listen(lambda event, n: None):
        copy = pickle.loads(pickle.dumps(progress))
    assert (copy.snapshot().items, progress.snapshot().items) == (0, 36)
