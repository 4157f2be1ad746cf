"""The distribution judge's unsnapped expected points reach item_scores and calibration by the rubric's rules."""

from __future__ import annotations

import math

from pipeline.calibrate._data import judge_points
from pipeline.grading import criterion_row, expected_points
from pipeline.scoring import CriterionAward, CriterionScore
from rubric_schema import Question

QUESTION = Question.model_validate(
    {
        "id": "1.1", "title": "t", "prompt": "p", "language": "en", "points": 4,
        "criteria": [
            {"id": "a", "title": "a", "points": 3, "step": 0.5, "earns_points_for": "x"},
            {"id": "b", "title": "b", "points": 2, "step": 1, "earns_points_for": "y"},
        ],
    }
)  # fmt: skip


def award(points: float, expected: float | None) -> CriterionAward:
    return CriterionAward(points=points, expected_points=expected, distribution=None if expected is None else {"0": 1})


def test_expected_points_follow_the_question_cap():
    awards = {"a": award(2.5, 2.6), "b": award(1, 1.2)}
    assert expected_points(QUESTION, awards, {}) == 3.8
    capped = {"a": award(3, 2.9), "b": award(2, 1.8)}
    assert expected_points(QUESTION, capped, {}) == 4  # 4.7 over a 4-point question: the cap rule applies


def test_no_expected_points_from_generated_verdicts():
    assert expected_points(QUESTION, {"a": award(2.5, 2.6), "b": award(1, None)}, {}) is None


def test_criterion_rows_carry_the_distribution_as_json_and_its_peak():
    row = criterion_row(
        "s1", "1.1",
        CriterionScore(criterion_id="a", points=1.5, max_points=3, source="judge", expected_points=1.4,
                       distribution={"0": 0.2, "1.5": 0.7, "3": 0.1}),
    )  # fmt: skip
    assert row.distribution == '{"0": 0.2, "1.5": 0.7, "3": 0.1}' and row.p_max == 0.7
    assert (row.submission_id, row.question_id, row.criterion_id, row.expected_points) == ("s1", "1.1", "a", 1.4)
    plain = criterion_row("s1", "1.1", CriterionScore(criterion_id="b", points=1, max_points=2, source="judge"))
    assert plain.p_max is None


def test_calibration_learns_from_expected_points_where_there_are_some():
    assert judge_points({"raw_points": 3.0, "expected_points": 2.7}) == 2.7
    assert judge_points({"raw_points": 3.0, "expected_points": None}) == 3.0
    assert judge_points({"raw_points": 3.0, "expected_points": math.nan}) == 3.0
    assert judge_points({"raw_points": 3.0}) == 3.0
