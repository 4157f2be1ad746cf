"""Human grades from the review station's `human_reviews` table, as a calibration takes them.

One grade per reviewer and item: the reviewer's current, non-stale form, at its item points (already
summed by the rubric's rules when the station exported it), so no rubric is needed to join them.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from pipeline.calibrate._data import CalibrationDataError, HumanGrade
from pipeline.store import read_table


def load_review_grades(
    round_out: str | Path, *, round_id: str | None = None, blind_only: bool = False
) -> list[HumanGrade]:
    """Item grades of the round's reviewers; an error names what is missing when there are none."""
    table = read_table(round_out, "human_reviews")
    if round_id is not None:
        table = table.filter(pc.equal(table.column("round_id"), round_id))
    grades: dict[tuple[str, str, str], HumanGrade] = {}
    for row in table.to_pylist():
        if not row["current"] or row["stale"] or (blind_only and row["mode"] != "blind"):
            continue
        key = (row["submission_id"], row["question_id"], row["reviewer"])
        grades[key] = HumanGrade(submission_id=key[0], question_id=key[1], grader=key[2], points=row["item_points"])
    if not grades:
        which = "blind " if blind_only else ""
        raise CalibrationDataError(
            f"{round_out}: no {which}reviews in human_reviews (grade items with `gradeflow review`, or pass --grades)"
        )
    return [grades[key] for key in sorted(grades)]
