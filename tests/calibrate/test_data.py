"""Grade sheets are validated row by row; the join keeps only items with a judge score and a human grade."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.calibrate import (
    CalibrationDataError,
    HumanGrade,
    item_grades,
    join_scores,
    load_human_grades,
    load_similarities,
)
from rubric_schema import load_exam


def _sheet(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grades.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_rows_are_reported_with_line_and_field(tmp_path: Path) -> None:
    path = _sheet(
        tmp_path,
        "submission_id,question_id,criterion_id,grader,points\n"
        "s1,1.1,c1,g1,2\n"
        "s2,1.1,c1,g1,-1\n"
        "s3,1.1,c1,g1,many\n",
    )
    with pytest.raises(CalibrationDataError) as error:
        load_human_grades(path)
    message = str(error.value)
    assert f"{path}:3: points" in message and f"{path}:4: points" in message and ":2:" not in message


def test_a_sheet_without_the_needed_columns_says_which(tmp_path: Path) -> None:
    with pytest.raises(CalibrationDataError, match="missing column\\(s\\) grader"):
        load_human_grades(_sheet(tmp_path, "submission_id,question_id,points\ns1,1.1,2\n"))


def test_criterion_points_add_up_per_grader_and_graders_are_averaged() -> None:
    grades = [
        HumanGrade(submission_id="s1", question_id="1.1", criterion_id="a", grader="g1", points=2),
        HumanGrade(submission_id="s1", question_id="1.1", criterion_id="b", grader="g1", points=1.5),
        HumanGrade(submission_id="s1", question_id="1.1", criterion_id="a", grader="g2", points=2.5),
    ]
    items = [
        {
            "submission_id": "s1",
            "question_id": "1.1",
            "kind": "text",
            "max_points": 5.0,
            "raw_points": 4.0,
            "confidence": None,
        }
    ]
    data, summary = join_scores(items, grades)
    assert summary.joined == 1
    assert data.graders["g1"][0] == 3.5 and data.graders["g2"][0] == 2.5
    assert data.human[0] == pytest.approx(3.0)
    assert np.isnan(data.confidence[0])


def test_the_join_leaves_out_what_cannot_be_calibrated_and_counts_why() -> None:
    grades = [
        HumanGrade(submission_id=s, question_id="1.1", grader="g1", points=1) for s in ("a", "b", "c", "z")
    ]
    items = [
        {"submission_id": "a", "question_id": "1.1", "kind": "text", "max_points": 5.0, "raw_points": 2.0},
        {"submission_id": "b", "question_id": "1.1", "kind": "text", "max_points": 5.0, "raw_points": None},
        {"submission_id": "c", "question_id": "1.1", "kind": "missing", "max_points": 5.0, "raw_points": 0.0},
        {"submission_id": "d", "question_id": "1.1", "kind": "text", "max_points": 5.0, "raw_points": 3.0},
    ]
    data, summary = join_scores(items, grades)
    assert list(data.submission_id) == ["a"]
    assert (summary.unscored, summary.no_answer, summary.ungraded, summary.grades_without_item) == (
        1,
        1,
        1,
        1,
    )


def test_a_grade_above_the_item_maximum_is_an_error_not_data() -> None:
    grades = [HumanGrade(submission_id="a", question_id="1.1", grader="g1", points=7)]
    items = [
        {"submission_id": "a", "question_id": "1.1", "kind": "text", "max_points": 5.0, "raw_points": 2.0}
    ]
    with pytest.raises(
        CalibrationDataError, match="a / 1.1: grader g1 gave 7 points but the item is worth 5"
    ):
        join_scores(items, grades)


def test_a_grader_grading_one_criterion_twice_is_an_error() -> None:
    grade = HumanGrade(submission_id="a", question_id="1.1", criterion_id="c", grader="g1", points=1)
    with pytest.raises(CalibrationDataError, match="graded a / 1.1 / c twice"):
        join_scores([], [grade, grade])


def test_similarity_sheet_rows_are_checked_and_attached_by_item(tmp_path: Path) -> None:
    good = tmp_path / "sim.csv"
    good.write_text("submission_id,question_id,similarity\na,1.1,0.8\n", encoding="utf-8")
    items = [
        {"submission_id": s, "question_id": "1.1", "kind": "text", "max_points": 5.0, "raw_points": 2.0}
        for s in ("a", "b")
    ]
    grades = [HumanGrade(submission_id=s, question_id="1.1", grader="g1", points=1) for s in ("a", "b")]
    data, _ = join_scores(items, grades)
    attached = data.with_similarity(load_similarities(good))
    assert attached.similarity is not None
    assert attached.similarity[0] == 0.8 and np.isnan(attached.similarity[1])
    assert attached.sha256() != data.sha256()
    bad = tmp_path / "bad.csv"
    bad.write_text("submission_id,question_id,similarity\na,1.1,high\n", encoding="utf-8")
    with pytest.raises(CalibrationDataError, match=r"bad\.csv:2: expected .* numeric similarity"):
        load_similarities(bad)


def test_with_the_rubric_criterion_grades_add_up_by_its_rules(rubric) -> None:
    criterion, alternative, group, question = (
        rubric.criterion,
        rubric.alternative,
        rubric.group,
        rubric.question,
    )
    data = rubric.exam(
        question(
            "1.1",
            6,
            criteria=[criterion("analysis", 2), criterion("extra", 1, bonus=True)],
            groups=[
                group(
                    "methods",
                    pick=1,
                    cap=4,
                    alternatives=[
                        alternative("sort", criterion("sort_ok", 3)),
                        alternative("heap", criterion("heap_ok", 4)),
                    ],
                )
            ],
        )
    )
    exam = load_exam(rubric.write(data))
    grades = [
        HumanGrade(submission_id="s1", question_id="1.1", criterion_id=c, grader="g1", points=p)
        for c, p in (("analysis", 2), ("sort_ok", 3), ("heap_ok", 4), ("extra", 1))
    ]
    # Only the better method counts (4), plus analysis (2): 6, and the bonus may not lift it above 6.
    assert item_grades(grades, exam)[("s1", "1.1")] == {"g1": 6.0}
    # Summed without the rubric: 10, which the join refuses with a hint.
    assert item_grades(grades)[("s1", "1.1")] == {"g1": 10.0}
    items = [
        {"submission_id": "s1", "question_id": "1.1", "kind": "text", "max_points": 6.0, "raw_points": 5.0}
    ]
    with pytest.raises(CalibrationDataError, match="pass the rubric"):
        join_scores(items, grades)
    data_, _ = join_scores(items, grades, exam=exam)
    assert data_.human[0] == 6.0
    # A criterion the grader left out counts 0; one the rubric lacks is an error.
    assert item_grades(grades[:1], exam)[("s1", "1.1")] == {"g1": 2.0}
    stray = HumanGrade(submission_id="s1", question_id="1.1", criterion_id="typo", grader="g1", points=1)
    with pytest.raises(CalibrationDataError, match="criteria the rubric does not have: typo"):
        item_grades([stray], exam)
