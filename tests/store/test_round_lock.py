"""Issue 21 item 3: the review export is a writer of the round like scoring, under the same lock.

It waits (bounded) for a re-score to finish instead of writing over it, and runs inside scoring's lock
when handed it (reapply-reviews) instead of deadlocking on its own flock.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.review import ReviewStore, RoundView, export
from pipeline.rounds import RoundBusy, round_lock
from pipeline.store import read_table

REPO = Path(__file__).parents[2]
sys.path.insert(0, str(REPO / "tests" / "review"))
from review_rounds import build  # noqa: E402

HOLD = """
import sys, time
from pipeline.rounds import round_lock
with round_lock(sys.argv[1], "rv"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(out: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out), str(seconds)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.fixture
def station(tmp_path: Path) -> tuple[RoundView, ReviewStore]:
    rnd = build(tmp_path, submissions=3, questions=2)
    return RoundView(rnd.out, rnd.round_dir), ReviewStore(rnd.out / "reviews.sqlite")


def test_an_export_waits_for_a_re_score_holding_the_round_then_writes(station) -> None:
    view, store = station
    holder = _hold(view.round_out, 1.5)
    start = time.monotonic()
    try:
        export(view, store, wait_s=60)
    finally:
        holder.wait(timeout=30)
    assert time.monotonic() - start >= 1.0  # it waited for the holder instead of writing over it
    assert (view.round_out / "human_reviews").is_dir()


def test_an_export_that_waited_its_bound_gives_up_naming_the_holder_and_writes_nothing(station) -> None:
    view, store = station
    holder = _hold(view.round_out, 30)
    try:
        with pytest.raises(RoundBusy, match=rf"by pid {holder.pid} .*\(waited 0.3 s\)"):
            export(view, store, wait_s=0.3)
    finally:
        holder.kill()
        holder.wait()
    assert not (view.round_out / "human_reviews").exists()


def test_an_export_handed_the_lock_runs_inside_it(station) -> None:
    view, store = station
    with round_lock(view.round_out, view.round_id) as held:
        with pytest.raises(RoundBusy):  # without the token flock refuses, even in the holder's process
            export(view, store, wait_s=0)
        export(view, store, held=held)
    assert read_table(view.round_out, "human_reviews").num_rows == 0
    assert (view.round_out / "human_reviews").is_dir()


def test_a_lock_of_another_folder_is_no_token(station, tmp_path: Path) -> None:
    view, store = station
    with round_lock(tmp_path / "other", view.round_id) as held:
        with pytest.raises(ValueError, match="the lock held is"):
            export(view, store, held=held)
