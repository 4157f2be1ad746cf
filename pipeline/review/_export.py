"""From the grade log to the tables: `human_reviews`, and final points in `item_scores` and `submissions`.

An export is a writer of the round like scoring: it holds the round lock (pipeline.rounds.round_lock) from
reading item_scores to writing it, so a re-score is never overwritten by finals computed on the tables it
replaced, and it writes through pipeline.store, whose partition swap a reader never sees half done (even
when the station is killed mid-export); the next export rebuilds everything from the log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pipeline import __version__
from pipeline.calibrate import HumanGrade, item_grades
from pipeline.review._round import RoundView
from pipeline.review._store import GradeEvent, ItemKey, ReviewStore
from pipeline.rounds import RoundLock, round_lock
from pipeline.store import read_partition, write_partition

EXPORT_WAIT_S = 120.0
"""How long an export waits for the round lock before it gives up with RoundBusy. A re-score holds the lock
for its whole run and reapplies the whole log itself when it ends, so nothing is lost by giving up: the
station's exporter tries again, `gradeflow review export` exits 4."""


@dataclass(frozen=True)
class HumanDecision:
    """An item's human points: the mean of its reviewers' current, non-stale grades."""

    points: float
    reviewers: tuple[str, ...]

    @property
    def decided_by(self) -> str:
        return "human:" + "+".join(self.reviewers)


@dataclass(frozen=True)
class Form:
    """One saved form: a reviewer's grade of one item, criterion by criterion."""

    events: tuple[GradeEvent, ...]
    item_points: float
    current: bool
    """The reviewer's latest form on the item: the one final points use."""
    stale: bool
    """The answer or the question changed since it was graded (a re-scored round): not used."""

    @property
    def first(self) -> GradeEvent:
        return self.events[0]


def forms(view: RoundView, events: list[GradeEvent]) -> list[Form]:
    """Group a round's events into forms, with item points by the rubric's rules, current and stale flags."""
    grouped: dict[str, list[GradeEvent]] = defaultdict(list)
    for event in events:
        grouped[event.form_id].append(event)
    latest: dict[tuple[ItemKey, str], int] = {}
    for form_events in grouped.values():
        first = form_events[0]
        slot = (first.item, first.reviewer)
        latest[slot] = max(latest.get(slot, 0), first.seq)
    grades = [
        HumanGrade(submission_id=e.submission_id, question_id=e.question_id, criterion_id=e.criterion_id,
                   grader=e.form_id, points=e.points)
        for e in events
        if e.criterion_id in view.criterion_ids.get(e.question_id, ())  # a stale form may name a removed one
    ]
    points = item_grades(grades, view.exam)
    result = []
    for form_id, form_events in grouped.items():
        first = form_events[0]
        item = view.items.get(first.item)
        stale = (
            item is None
            or first.answer_sha != item.answer_sha
            or first.question_sha != view.question_shas.get(first.question_id)
        )
        result.append(
            Form(
                events=tuple(form_events),
                item_points=points.get(first.item, {}).get(form_id, 0.0),
                current=latest[(first.item, first.reviewer)] == first.seq,
                stale=stale,
            )
        )
    return sorted(result, key=lambda f: f.first.seq)


def decisions(all_forms: list[Form]) -> dict[ItemKey, HumanDecision]:
    """Item → human decision, from the current, non-stale forms."""
    by_item: dict[ItemKey, dict[str, float]] = defaultdict(dict)
    for form in all_forms:
        if form.current and not form.stale:
            by_item[form.first.item][form.first.reviewer] = form.item_points
    return {
        item: HumanDecision(points=round(sum(given.values()) / len(given), 2), reviewers=tuple(sorted(given)))
        for item, given in by_item.items()
    }


def _apply_finals(out_dir: Path, round_id: str, decided: dict[ItemKey, HumanDecision]) -> None:
    """Rewrite final_points/decided_by of the round's items and final_total/decided_by of its submissions."""
    items = read_partition(out_dir, "item_scores", round_id).to_pylist()
    change: dict[str, float] = defaultdict(float)
    deciders: dict[str, set[str]] = defaultdict(set)
    for row in items:
        key = (row["submission_id"], row["question_id"])
        base = row["calibrated_points"] if row["calibrated_points"] is not None else row["raw_points"]
        if row["kind"] == "missing":
            row["final_points"], row["decided_by"] = 0.0, "rule"
        elif key in decided:
            row["final_points"], row["decided_by"] = decided[key].points, decided[key].decided_by
            change[key[0]] += decided[key].points - (base or 0.0)
        else:
            row["final_points"] = base
            row["decided_by"] = None if base is None else (
                "calibration" if row["calibrated_points"] is not None else "judge")
        if row["decided_by"] not in (None, "rule"):
            deciders[key[0]].add(row["decided_by"])
    write_partition(out_dir, "item_scores", round_id, items)
    submissions = read_partition(out_dir, "submissions", round_id).to_pylist()
    for row in submissions:
        if row["status"] == "rejected":
            continue
        base = row["calibrated_total"] if row["calibrated_total"] is not None else row["raw_total"]
        sid = row["submission_id"]
        row["final_total"] = None if base is None else round(base + change[sid], 2)
        row["decided_by"] = ", ".join(sorted(deciders[sid])) or None
    write_partition(out_dir, "submissions", round_id, submissions)


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    events: int
    forms: int
    items_decided: int
    stale_forms: int
    last_seq: int


def export(
    view: RoundView, store: ReviewStore, *, wait_s: float | None = None, held: RoundLock | None = None
) -> ExportSummary:
    """Write human_reviews from the whole log and the final points it implies; safe to run at any time.

    In the round lock: waits up to `wait_s` (default EXPORT_WAIT_S) for a re-score to finish (then
    RoundBusy; the log keeps every grade). `held`: the caller holds the lock already (scoring's
    reapply-reviews). Grades are checked against the round as it is now (`RoundView.current`), so a
    station started before a re-score never writes grades of answers that have changed.
    """
    wait_s = EXPORT_WAIT_S if wait_s is None else wait_s
    with round_lock(view.round_out, view.round_id, wait_s=wait_s, held=held):
        return _export(view.current(), store)


def _export(view: RoundView, store: ReviewStore) -> ExportSummary:
    events = store.events(view.round_id)
    all_forms = forms(view, events)
    rows = [
        {
            "round_id": view.round_id,
            "submission_id": e.submission_id,
            "question_id": e.question_id,
            "criterion_id": e.criterion_id,
            "reviewer": e.reviewer,
            "points": e.points,
            "item_points": form.item_points,
            "comment": e.comment,
            "mode": e.mode,
            "graded_at": e.graded_at,
            "form_id": e.form_id,
            "seq": e.seq,
            "current": form.current,
            "stale": form.stale,
            "answer_sha": e.answer_sha,
            "question_sha": e.question_sha,
            "gradeflow_version": __version__,
        }
        for form in all_forms
        for e in form.events
    ]
    write_partition(view.round_out, "human_reviews", view.round_id, rows)
    decided = decisions(all_forms)
    _apply_finals(view.round_out, view.round_id, decided)
    return ExportSummary(
        events=len(events),
        forms=len(all_forms),
        items_decided=len(decided),
        stale_forms=sum(f.stale for f in all_forms),
        last_seq=max((e.seq for e in events), default=0),
    )
