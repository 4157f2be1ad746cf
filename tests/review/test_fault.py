"""Two reviewers grade 200 items at once over HTTP while the station is killed -9 and restarted twice.

Every form a reviewer got an answer for must be in the log exactly once, every item must end with the
grades it needs, the exported tables must be readable and whole at every moment, and at the end
item_scores and submissions must hold exactly the final points the log decides.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from review_client import ItemForm, ReviewerClient
from review_rounds import build
from review_server import StationProcess

from pipeline.review import ReviewStore, RoundView, add_reviewer
from pipeline.review._export import decisions
from pipeline.review._export import forms as log_forms
from pipeline.store import query, read_table

pytestmark = pytest.mark.e2e

MAX_TRIES = 600  # each try waits 0.1 s: a minute for a restart
MAX_ITEMS = 400  # bounded loops: no reviewer grades more forms than this


def _retry(call):
    """Call until the station answers (it may be down between a kill and its restart)."""
    for _ in range(MAX_TRIES):
        try:
            return call()
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError("the station did not come back")


class Grader(threading.Thread):
    """A reviewer grading until the queue is empty, resending a form whose reply was lost."""

    def __init__(self, name: str, station: StationProcess, token: str):
        super().__init__(name=name, daemon=True)
        self.station = station
        self.reviewer = ReviewerClient(httpx.Client(base_url=station.url, timeout=10))
        self.token = token
        self.acknowledged: list[tuple[str, tuple[str, str]]] = []
        self.unexpected: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _retry(lambda: self.reviewer.login(self.token))
            for _ in range(MAX_ITEMS):
                form: ItemForm | None = _retry(self.reviewer.open_next)
                if form is None:
                    return
                response = _retry(lambda form=form: self.reviewer.submit(form))
                if response.status_code == 303:
                    self.acknowledged.append((form.hidden["form_id"], form.item))
                else:
                    self.unexpected.append(f"{form.item}: {response.status_code}")
        except BaseException as error:  # reported by the test
            self.error = error


class Reader(threading.Thread):
    """Reads the export over and over, as gradeflow does (the store's read_table, DuckDB for `gradeflow query`).

    The log is append-only, so the exported rows may only grow: fewer rows than a read before means the
    export vanished or went back, and an exception means a moment it was unreadable. The export rewrites
    item_scores and submissions too: they must hold every row at every read.
    """

    def __init__(self, out: Path, stop: threading.Event, rows: dict[str, int]):
        super().__init__(daemon=True)
        self.out, self.stop, self.rows = out, stop, rows
        self.reads, self.most, self.failures = 0, 0, []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                rows = read_table(self.out, "human_reviews").num_rows
                _, [(counted,)] = query(self.out, "SELECT count(*) FROM human_reviews")
                if min(rows, counted) < self.most:
                    self.failures.append(f"{min(rows, counted)} rows after {self.most}")
                self.most = max(self.most, rows, counted)
                for table, expected in self.rows.items():
                    if (found := read_table(self.out, table).num_rows) != expected:
                        self.failures.append(f"{table}: {found} rows, not {expected}")
                self.reads += 1
            except Exception as error:  # noqa: BLE001 - any unreadable moment is the finding
                self.failures.append(repr(error))
            time.sleep(0.02)


def test_no_grade_lost_or_duplicated_across_kill_9(tmp_path: Path) -> None:
    rnd = build(tmp_path, submissions=50, questions=4, flag_all=True)
    view = RoundView(rnd.out, rnd.round_dir, double_share=0.1)
    assert len(view.in_mode("review")) == 200
    tokens = {name: add_reviewer(rnd.out / "reviewers.yaml", name) for name in ("alice", "bob")}
    station = StationProcess(rnd.out, rnd.round_dir, double=0.1)
    stop = threading.Event()
    reader = Reader(rnd.out, stop, {"item_scores": len(view.items), "submissions": 50})
    station.start()
    try:
        reader.start()
        graders = [Grader(name, station, token) for name, token in tokens.items()]
        for grader in graders:
            grader.start()
        kills = 0
        for threshold in (60, 130):
            deadline = time.monotonic() + 120
            while sum(len(g.acknowledged) for g in graders) < threshold and time.monotonic() < deadline:
                time.sleep(0.05)
            station.kill()
            kills += 1
            time.sleep(0.3)
            station.start()
        for grader in graders:
            grader.join(timeout=300)
        assert kills == 2
        for grader in graders:
            assert grader.error is None, repr(grader.error)
            assert not grader.is_alive() and grader.unexpected == []
        store = ReviewStore(rnd.out / "reviews.sqlite")
        events = store.events(rnd.round_id)
        station.wait_exported(max(e.seq for e in events))
    finally:
        stop.set()
        station.stop()
    forms = {e.form_id: (e.item, e.reviewer) for e in events}
    acknowledged = {form_id: item for g in graders for form_id, item in g.acknowledged}
    assert set(acknowledged) <= set(forms), "a grade the reviewer saw saved is not in the log"
    per_slot = Counter(forms.values())
    assert max(per_slot.values()) == 1, "a reviewer's grade of an item was saved twice"
    per_item = Counter(item for item, _ in forms.values())
    assert {item: per_item[item] for item in view.items} == {k: i.capacity for k, i in view.items.items()}
    assert len(events) == sum(len(view.criteria(item[1])) for item, _ in forms.values())
    exported = pq.read_table(rnd.out / "human_reviews" / f"round_id={rnd.round_id}" / "part-0.parquet")
    assert sorted(exported.column("seq").to_pylist()) == [e.seq for e in events]
    _, rows = query(rnd.out, "SELECT count(*) FROM item_scores WHERE decided_by LIKE 'human:%'")
    assert rows == [(200,)]
    decided = decisions(log_forms(view, events))
    items = {(r["submission_id"], r["question_id"]): r for r in read_table(rnd.out, "item_scores").to_pylist()}
    assert {key: (row["final_points"], row["decided_by"]) for key, row in items.items()} == {
        key: (decision.points, decision.decided_by) for key, decision in decided.items()
    }  # every item decided by its reviewers, none lost or left at the judge's points
    totals = read_table(rnd.out, "submissions").to_pylist()
    assert len(totals) == 50
    for row in totals:
        own = [r for (sid, _), r in items.items() if sid == row["submission_id"]]
        assert row["final_total"] == pytest.approx(sum(r["final_points"] for r in own), abs=0.011), row
        assert row["decided_by"] == ", ".join(sorted({r["decided_by"] for r in own})), row
    assert reader.reads > 100 and 0 < reader.most <= len(events) and reader.failures == []
