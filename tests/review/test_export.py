"""From the log to the tables: human_reviews, final points and who decided, stale reviews after re-scoring."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from review_rounds import ReviewRound, score

from pipeline.review import NewGrade, ReviewStore, RoundView, export
from pipeline.store import query, read_table


def _grade(view: RoundView, store: ReviewStore, item: tuple[str, str], reviewer: str, points: dict[str, float],
           mode: str = "review") -> None:
    current = view.items[item]
    store.add_form(
        form_id=uuid.uuid4().hex, round_id=view.round_id, item=item, reviewer=reviewer,
        grades=[NewGrade(c, p) for c, p in points.items()], comment=f"{reviewer} on {item[1]}", mode=mode,
        answer_sha=current.answer_sha, question_sha=view.question_shas[item[1]],
        expected_version=max((e.seq for e in store.events(view.round_id, item) if e.reviewer == reviewer), default=0),
    )


def _rows(out: Path, table: str) -> dict[tuple[str, str], dict]:
    return {(r["submission_id"], r.get("question_id", "")): r for r in read_table(out, table).to_pylist()}


@pytest.fixture
def graded(small_round: ReviewRound) -> tuple[ReviewRound, RoundView, ReviewStore]:
    view = RoundView(small_round.out, small_round.round_dir)
    store = ReviewStore(small_round.out / "reviews.sqlite")
    _grade(view, store, ("s00000", "1.1"), "alice", {"q1-idea": 0.5, "q1-cost": 0.0})
    _grade(view, store, ("s00000", "1.1"), "alice", {"q1-idea": 1.5, "q1-cost": 0.0})  # she changes her mind
    _grade(view, store, ("s00001", "1.2"), "alice", {"q2-idea": 2.0, "q2-cost": 1.0})
    _grade(view, store, ("s00001", "1.2"), "bob", {"q2-idea": 1.0, "q2-cost": 0.0}, mode="blind")
    _grade(view, store, ("s00002", "2.1"), "bob", {"heap-ok": 2.0, "sort-ok": 2.0})  # best 1 of 2, cap 2
    return small_round, view, store


def test_human_reviews_holds_every_event_with_current_and_item_points(graded) -> None:
    rnd, view, store = graded
    summary = export(view, store)
    assert (summary.events, summary.forms, summary.items_decided, summary.stale_forms) == (10, 5, 3, 0)
    rows = read_table(rnd.out, "human_reviews").to_pylist()
    assert len(rows) == 10
    alice_11 = [r for r in rows if r["reviewer"] == "alice" and r["question_id"] == "1.1"]
    assert [(r["points"], r["item_points"], r["current"]) for r in alice_11 if r["criterion_id"] == "q1-idea"] == [
        (0.5, 0.5, False), (1.5, 1.5, True)]
    group = [r for r in rows if r["question_id"] == "2.1"]
    assert {r["item_points"] for r in group} == {2.0}  # the rubric's cap, not 2 + 2
    assert {r["mode"] for r in rows if r["reviewer"] == "bob" and r["question_id"] == "1.2"} == {"blind"}


def test_final_points_are_human_else_calibrated_else_raw_and_name_who_decided(graded) -> None:
    rnd, view, store = graded
    before_items = _rows(rnd.out, "item_scores")
    assert before_items[("s00003", "1.1")]["decided_by"] == "judge"  # grading wrote the pre-review finals
    export(view, store)
    items = _rows(rnd.out, "item_scores")
    assert (items[("s00000", "1.1")]["final_points"], items[("s00000", "1.1")]["decided_by"]) == (1.5, "human:alice")
    assert (items[("s00001", "1.2")]["final_points"], items[("s00001", "1.2")]["decided_by"]) == (
        2.0, "human:alice+bob")  # mean of 3 and 1
    untouched = items[("s00003", "1.1")]
    assert untouched["final_points"] == untouched["raw_points"] and untouched["decided_by"] == "judge"
    subs = {k[0]: v for k, v in _rows(rnd.out, "submissions").items()}
    delta = 1.5 - before_items[("s00000", "1.1")]["raw_points"]
    assert subs["s00000"]["final_total"] == pytest.approx(subs["s00000"]["raw_total"] + delta)
    assert subs["s00000"]["decided_by"] == "human:alice, judge"
    assert subs["s00004"]["final_total"] == subs["s00004"]["raw_total"] and subs["s00004"]["decided_by"] == "judge"
    assert export(view, store).items_decided == 3  # idempotent: the finals are rebuilt from the log
    assert _rows(rnd.out, "item_scores")[("s00000", "1.1")]["final_points"] == 1.5


def test_rescoring_keeps_reviews_and_flags_the_ones_whose_answer_changed(graded) -> None:
    rnd, view, store = graded
    export(view, store)
    path = rnd.round_dir / "submissions" / "s00000.md"
    path.write_text(path.read_text().replace("Candidate 0 answers 1.1", "Candidate 0 rewrote 1.1"))
    score(rnd.round_dir, rnd.out)  # the round scored again: the changed answer is in its items table
    summary = export(RoundView(rnd.out, rnd.round_dir), store)
    assert summary.stale_forms == 2 and summary.items_decided == 2
    rows = read_table(rnd.out, "human_reviews").to_pylist()
    assert {r["stale"] for r in rows if r["question_id"] == "1.1"} == {True}
    assert _rows(rnd.out, "item_scores")[("s00000", "1.1")]["decided_by"] == "judge"
    assert _rows(rnd.out, "item_scores")[("s00001", "1.2")]["decided_by"] == "human:alice+bob"


def test_a_view_built_before_a_rescore_never_writes_grades_of_changed_answers(graded) -> None:
    """The station's exporter keeps the view it started with; the export checks grades against the round now."""
    rnd, view, store = graded
    export(view, store)
    path = rnd.round_dir / "submissions" / "s00000.md"
    path.write_text(path.read_text().replace("Candidate 0 answers 1.1", "Candidate 0 rewrote 1.1"))
    score(rnd.round_dir, rnd.out)  # the round scored again: the changed answer is in its items table
    summary = export(view, store)  # the view from before the re-score, as a running station holds it
    assert summary.stale_forms == 2 and summary.items_decided == 2
    assert _rows(rnd.out, "item_scores")[("s00000", "1.1")]["decided_by"] == "judge"
    assert view.current() is view.current()  # read afresh once per re-score, not on every export


def test_the_tables_are_queryable_as_views(graded) -> None:
    rnd, view, store = graded
    export(view, store)
    columns, rows = query(rnd.out, "SELECT reviewer, count(*) FROM human_reviews WHERE current GROUP BY 1 ORDER BY 1")
    assert rows == [("alice", 4), ("bob", 4)]
    _, rows = query(rnd.out, "SELECT count(*) FROM item_scores WHERE decided_by LIKE 'human:%'")
    assert rows == [(3,)]
