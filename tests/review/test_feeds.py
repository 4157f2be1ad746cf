"""Reviews feed the rest: `gradeflow calibrate` without --grades, and the report's "What reviewers changed"."""

from __future__ import annotations

import json
import uuid

import pytest
from review_rounds import ReviewRound
from typer.testing import CliRunner

from gradeflow_cli import app
from pipeline.calibrate import CalibrationDataError, load_review_grades
from pipeline.report import load_report_data, render_html
from pipeline.review import NewGrade, ReviewStore, RoundView, export


def _grade_all(rnd: ReviewRound, reviewers: dict[str, str], fraction: dict[str, float]) -> RoundView:
    """Each reviewer grades every item: each criterion at `fraction` of its points, snapped to its values."""
    view = RoundView(rnd.out, rnd.round_dir)
    store = ReviewStore(rnd.out / "reviews.sqlite")
    for n, item in enumerate(view.items.values()):
        for reviewer, mode in reviewers.items():
            grades = []
            for criterion, allowed, _ in view.criteria(item.question_id):
                target = criterion.points * fraction[reviewer] * (n % 3) / 2
                grades.append(NewGrade(criterion.id, min(allowed, key=lambda v: abs(v - target))))
            store.add_form(form_id=uuid.uuid4().hex, round_id=view.round_id, item=item.key, reviewer=reviewer,
                           grades=grades, comment="", mode=mode, answer_sha=item.answer_sha,
                           question_sha=view.question_shas[item.question_id], expected_version=0)
    export(view, store)
    return view


def test_review_grades_are_current_item_points_and_can_be_blind_only(small_round: ReviewRound) -> None:
    with pytest.raises(CalibrationDataError, match="no reviews"):
        load_review_grades(small_round.out)
    view = _grade_all(small_round, {"alice": "review", "bob": "blind"}, {"alice": 1.0, "bob": 0.5})
    grades = load_review_grades(small_round.out)
    assert len(grades) == 2 * len(view.items)
    assert {g.criterion_id for g in grades} == {""}  # item grades: the rubric's rules were applied at export
    assert all(g.points <= view.items[(g.submission_id, g.question_id)].max_points for g in grades)
    assert {g.grader for g in load_review_grades(small_round.out, blind_only=True)} == {"bob"}


def test_calibrate_without_grades_fits_on_the_rounds_reviews(small_round: ReviewRound) -> None:
    _grade_all(small_round, {"alice": "blind"}, {"alice": 0.8})
    result = CliRunner().invoke(app, ["calibrate", str(small_round.out), "--bootstrap", "20", "--folds", "3"])
    assert result.exit_code == 0, result.output
    assert "24 item grades from the round's reviews" in result.output
    artifact = json.loads((small_round.out / "calibration.json").read_text())
    assert "human_reviews" in json.dumps(artifact)
    blind = CliRunner().invoke(app, ["calibrate", str(small_round.out), "--blind-only", "--bootstrap", "0"])
    assert blind.exit_code == 0, blind.output


def test_calibrate_says_when_a_round_has_no_reviews(small_round: ReviewRound) -> None:
    result = CliRunner().invoke(app, ["calibrate", str(small_round.out)])
    assert result.exit_code == 1
    assert "no reviews in human_reviews" in result.output


def test_the_report_shows_what_reviewers_changed(small_round: ReviewRound) -> None:
    view = RoundView(small_round.out, small_round.round_dir)
    store = ReviewStore(small_round.out / "reviews.sqlite")
    item = view.items[("s00002", "1.1")]
    store.add_form(form_id=uuid.uuid4().hex, round_id=view.round_id, item=item.key, reviewer="alice",
                   grades=[NewGrade("q1-idea", 0.0), NewGrade("q1-cost", 0.0)], comment="no idea shown",
                   mode="review", answer_sha=item.answer_sha, question_sha=view.question_shas["1.1"],
                   expected_version=0)
    assert load_report_data(small_round.out, small_round.round_id).human == []
    export(view, store)
    data = load_report_data(small_round.out, small_round.round_id)
    [change] = data.human
    assert (change.submission_id, change.question_id, change.final_points) == ("s00002", "1.1", 0.0)
    assert change.pipeline_points == item.raw_points and change.comments == ["alice: no idea shown"]
    html = render_html(data)
    assert "What reviewers changed" in html and "human:alice" in html and "no idea shown" in html
