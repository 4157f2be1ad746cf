"""Agreement metrics against values worked out by hand on tiny arrays, and the bootstrap around them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from pipeline.calibrate import METRIC_NAMES, Scale, agreement, bootstrap_agreement, infer_scale
from pipeline.calibrate._metrics import agreement_batch

SCALE_0_3 = Scale(max_points=3, step=1)


def test_metrics_match_hand_computed_values() -> None:
    human = np.array([0.0, 1.0, 3.0, 3.0])
    pred = np.array([0.0, 1.0, 2.0, 3.0])
    got = agreement(pred, human, SCALE_0_3)
    # Pearson: Σdxdy = 5.5, Σdx² = 5, Σdy² = 6.75.
    assert got["pearson"] == pytest.approx(5.5 / math.sqrt(5 * 6.75))
    # Spearman: ranks human (1, 2, 3.5, 3.5), pred (1, 2, 3, 4).
    assert got["spearman"] == pytest.approx(4.5 / math.sqrt(5 * 4.5))
    # QWK: weighted observed disagreement 0.25/9 against expected 3/9.
    assert got["qwk"] == pytest.approx(1 - 0.25 / 3)
    assert got["mae"] == pytest.approx(0.25)
    assert got["rmse"] == pytest.approx(0.5)
    assert got["exact"] == pytest.approx(0.75)
    assert got["adjacent"] == pytest.approx(1.0)
    # Interval α: D_o = 2/8, D_e = 190/56.
    assert got["alpha"] == pytest.approx(1 - 0.25 / (190 / 56))


def test_qwk_weights_follow_the_scale_not_the_grades_that_occur() -> None:
    # Grade 2 occurs nowhere: sklearn without labels would treat 3 as the next category after 1 (κ = 0.8).
    human = np.array([0.0, 1.0, 3.0, 3.0])
    pred = np.array([0.0, 1.0, 3.0, 1.0])
    assert agreement(pred, human, SCALE_0_3)["qwk"] == pytest.approx(1 - 1 / 3.125)
    assert cohen_kappa_score(human, pred, weights="quadratic") == pytest.approx(0.8)


def test_continuous_scores_are_rounded_to_the_grading_step_for_category_metrics() -> None:
    scale = Scale(max_points=5, step=0.5)
    human = np.array([0.0, 2.5, 5.0])
    pred = np.array([0.2, 2.6, 4.4])
    got = agreement(pred, human, scale)
    assert got["exact"] == pytest.approx(2 / 3)  # 4.4 rounds to 4.5, one step off
    assert got["adjacent"] == pytest.approx(1.0)
    assert got["mae"] == pytest.approx((0.2 + 0.1 + 0.6) / 3)


def test_constant_scores_make_correlations_undefined_not_a_crash() -> None:
    got = agreement(np.array([2.0, 2.0, 2.0, 2.0]), np.array([0.0, 1.0, 2.0, 3.0]), SCALE_0_3)
    assert math.isnan(got["pearson"]) and math.isnan(got["spearman"])
    assert got["mae"] == pytest.approx(1.0)
    estimates = bootstrap_agreement(np.array([2.0] * 4), np.array([0.0, 1, 2, 3]), SCALE_0_3, n_resamples=50)
    assert estimates["pearson"].value is None and estimates["pearson"].ci_low is None


def test_batch_metrics_equal_the_library_values() -> None:
    rng = np.random.default_rng(3)
    scale = Scale(max_points=5, step=0.5)
    human = rng.integers(0, 11, size=(6, 40)) / 2
    pred = np.clip(human + rng.normal(0, 1, size=human.shape), 0, 5)
    batch = agreement_batch(pred, human, scale)
    for row in range(len(pred)):
        expected = agreement(pred[row], human[row], scale)
        for name in METRIC_NAMES:
            assert batch[name][row] == pytest.approx(expected[name], abs=1e-9), name


def test_bootstrap_interval_brackets_the_estimate_and_repeats_with_the_seed() -> None:
    rng = np.random.default_rng(0)
    human = rng.integers(0, 6, size=200).astype(float)
    pred = np.clip(human + rng.normal(0, 1, size=200), 0, 5)
    scale = Scale(max_points=5, step=1)
    first = bootstrap_agreement(pred, human, scale, n_resamples=300, seed=1)
    again = bootstrap_agreement(pred, human, scale, n_resamples=300, seed=1)
    assert first == again
    for name in METRIC_NAMES:
        estimate = first[name]
        assert estimate.ci_low is not None and estimate.ci_high is not None and estimate.value is not None
        assert estimate.ci_low <= estimate.value <= estimate.ci_high
        assert estimate.ci_low < estimate.ci_high
    perfect = bootstrap_agreement(human, human, scale, n_resamples=100)
    assert perfect["pearson"].value == pytest.approx(1.0) and perfect["pearson"].ci_low == pytest.approx(1.0)


def test_scale_is_the_modal_maximum_and_the_coarsest_step_most_grades_sit_on() -> None:
    # Mohler-like: whole points on 0–5 questions; on 0–10 ones odd points are halves on the 0–5 scale,
    # and one second-grader 7.5 (3.75) is too rare to make the step a quarter.
    points = np.array([5, 4, 3, 0, 2, 1] * 5 + [7, 9, 3, 7.5], dtype=float)
    maxima = np.array([5] * 30 + [10] * 4, dtype=float)
    assert infer_scale(points, maxima) == Scale(max_points=5, step=0.5)
    assert infer_scale(np.array([0.0, 3, 7, 10]), np.array([10.0] * 4)) == Scale(max_points=10, step=1)
    assert Scale(max_points=5, step=0.5).n_categories == 11
