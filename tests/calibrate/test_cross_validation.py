"""Cross-validation never fits on the items it scores; routing sends the worst items to humans first."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.calibrate import (
    CalibrationConfig,
    CalibrationData,
    Scale,
    _evaluate,
    cross_validate,
    routing_curve,
)

from .conftest import synthetic_data


def test_fits_never_see_the_items_they_predict(monkeypatch: pytest.MonkeyPatch) -> None:
    data = synthetic_data(questions=3, per_question=30)
    kfold_trained_on: list[set[str]] = []
    questions_trained_on: list[set[str]] = []
    real_fit_model = _evaluate.fit_model

    def spy(subset: CalibrationData, config: CalibrationConfig):
        if config.per_question:
            kfold_trained_on.append(set(subset.submission_id.tolist()))
        else:  # leave-question-out fits the global map only
            questions_trained_on.append(set(subset.question_id.tolist()))
        return real_fit_model(subset, config)

    monkeypatch.setattr(_evaluate, "fit_model", spy)
    cv = cross_validate(data, CalibrationConfig(), folds=5)
    everything = set(data.submission_id.tolist())
    held_out = [everything - seen for seen in kfold_trained_on]
    assert len(held_out) == 5 == cv.folds
    assert all(held_out), "a fold trained on every item"
    assert sum(len(h) for h in held_out) == len(everything) and set().union(*held_out) == everything
    # Each held-out item's prediction is the fold model's, recomputed without it.
    for fold_items in held_out:
        mask = np.isin(data.submission_id, list(fold_items))
        model, _ = real_fit_model(data.subset(~mask), CalibrationConfig())
        np.testing.assert_allclose(
            cv.kfold[mask], model.predict(data.question_id[mask], data.raw_fraction[mask])
        )
    assert sorted(map(sorted, questions_trained_on)) == [["1.1", "2.1"], ["1.1", "3.1"], ["2.1", "3.1"]]


def test_leave_question_out_never_sees_the_question() -> None:
    # Three questions where the judge is right, one where it is backwards: fitted with that question,
    # the global map would flatten; left out, it is the identity the other three show.
    data = synthetic_data(questions=4, per_question=40)
    backwards = data.question_id == "4.1"
    raw = np.where(backwards, data.max_points - data.raw_points, data.raw_points)
    data = CalibrationData(
        submission_id=data.submission_id,
        question_id=data.question_id,
        max_points=data.max_points,
        raw_points=raw,
        confidence=data.confidence,
        human=data.graders["g1"],
        graders={"g1": data.graders["g1"]},
    )
    cv = cross_validate(data, CalibrationConfig(mapping="linear"), folds=3)
    np.testing.assert_allclose(cv.leave_question_out[backwards], data.raw_fraction[backwards], atol=1e-9)


def test_calibration_out_of_fold_beats_raw_on_a_biased_judge(generous_judge: CalibrationData) -> None:
    cv = cross_validate(generous_judge, CalibrationConfig(), folds=5)
    raw_error = np.abs(generous_judge.raw_fraction - generous_judge.human_fraction).mean()
    calibrated_error = np.abs(cv.kfold - generous_judge.human_fraction).mean()
    assert calibrated_error < 0.6 * raw_error


def test_routing_by_expected_error_buys_more_agreement_than_random_review() -> None:
    rng = np.random.default_rng(0)
    human = rng.integers(0, 6, 300).astype(float)
    wrong = np.zeros(300, dtype=bool)
    wrong[rng.permutation(300)[:45]] = True  # 15 %: all reviewed at a 20 % share
    pred = np.where(wrong, 5 - human, human)
    expected_error = np.where(wrong, 0.9, 0.1) + rng.uniform(0, 0.05, 300)
    points = routing_curve(pred, human, expected_error, Scale(max_points=5, step=1))
    by_share = {p.share: p for p in points}
    assert by_share[0.0].qwk == pytest.approx(by_share[0.0].random_qwk)
    assert by_share[0.2].qwk == pytest.approx(1.0) and by_share[0.2].mae == pytest.approx(0.0)
    assert by_share[0.2].random_qwk < 0.9
    assert by_share[1.0].random_qwk == pytest.approx(1.0)
