"""Fitted maps recover known monotone relations; per-question maps blend with the global one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from pipeline.calibrate import CalibrationConfig, CalibrationData, cross_validate, fit_mapping, fit_model
from pipeline.calibrate._fit import IsotonicMap, LinearMap, SigmoidMap, fit_maps

from .conftest import synthetic_data


def test_isotonic_recovers_a_known_monotone_mapping() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 600)
    y = np.clip(x**2 + rng.normal(0, 0.03, len(x)), 0, 1)
    mapping = fit_mapping(x, y, "isotonic")
    grid = np.linspace(0.05, 0.95, 19)
    assert np.max(np.abs(mapping.predict(grid) - grid**2)) < 0.06
    assert np.all(np.diff(mapping.predict(grid)) >= 0)


def test_isotonic_map_predicts_as_sklearn_does_including_outside_the_data() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0.2, 0.8, 100)
    y = np.clip(x + rng.normal(0, 0.1, 100), 0, 1)
    mapping = fit_mapping(x, y, "isotonic")
    reference = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(x, y)
    grid = np.linspace(0, 1, 101)
    assert isinstance(mapping, IsotonicMap)
    np.testing.assert_allclose(mapping.predict(grid), reference.predict(grid))


def test_sigmoid_and_linear_recover_their_parameters() -> None:
    x = np.linspace(0, 1, 50)
    sigmoid = fit_mapping(x, expit(8 * x - 4), "sigmoid")
    assert isinstance(sigmoid, SigmoidMap)
    assert sigmoid.a == pytest.approx(8, rel=1e-3) and sigmoid.b == pytest.approx(-4, rel=1e-3)
    linear = fit_mapping(x, 0.2 + 0.6 * x, "linear")
    assert isinstance(linear, LinearMap)
    assert linear.slope == pytest.approx(0.6) and linear.intercept == pytest.approx(0.2)


def test_a_calibration_never_reverses_the_judges_order() -> None:
    x = np.linspace(0, 1, 20)
    reversed_map = fit_mapping(x, 1 - x, "linear")
    assert isinstance(reversed_map, LinearMap) and reversed_map.slope == 0
    assert np.all(np.diff(fit_mapping(x, 1 - x, "sigmoid").predict(x)) >= 0)


def test_auto_uses_isotonic_only_with_enough_data() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, 40)
    y = x
    assert fit_mapping(x, y, "auto", min_isotonic=30).method == "isotonic"
    assert fit_mapping(x[:20], y[:20], "auto", min_isotonic=30).method in {"linear", "sigmoid"}


def test_per_question_maps_pull_towards_their_own_data_by_amount(generous_judge: CalibrationData) -> None:
    config = CalibrationConfig(min_question=8, shrinkage=20)
    model = fit_maps(generous_judge, config)
    assert set(model.questions) == {"1.1", "2.1", "3.1", "4.1"}
    fit = model.questions["1.1"]
    assert fit.n == 60 and fit.weight == pytest.approx(60 / 80)
    share = np.array([0.5])
    own, pooled = fit.mapping.predict(share)[0], model.global_mapping.predict(share)[0]
    blended = model.predict(np.array(["1.1"], dtype=object), share)[0]
    assert blended == pytest.approx(0.75 * own + 0.25 * pooled)
    # A question the calibration never saw gets the global map alone.
    assert model.predict(np.array(["9.9"], dtype=object), share)[0] == pytest.approx(pooled)
    # The judge's sqrt bias is undone: a judge share of 0.5 is a human share of about 0.25.
    assert pooled == pytest.approx(0.25, abs=0.06)


def test_questions_below_the_minimum_use_the_global_map() -> None:
    data = synthetic_data(questions=2, per_question=5)
    model = fit_maps(data, CalibrationConfig(min_question=8))
    assert model.questions == {}
    assert model.method_of("1.1").startswith("global:")


def test_expected_error_is_higher_where_the_judge_was_less_sure() -> None:
    rng = np.random.default_rng(4)
    n = 400
    human = rng.integers(0, 11, n) / 10
    confidence = rng.uniform(0, 1, n)
    judge = np.clip(human + rng.normal(0, 1, n) * (1.05 - confidence) * 0.4, 0, 1)
    data = CalibrationData(
        submission_id=np.array([f"s{i}" for i in range(n)], dtype=object),
        question_id=np.array(["1"] * n, dtype=object),
        max_points=np.ones(n),
        raw_points=judge,
        confidence=confidence,
        human=human,
        graders={"g1": human},
    )
    model, inner_errors = fit_model(data, CalibrationConfig())
    ids = np.array(["1", "1"], dtype=object)
    unsure, sure = model.expected_error(ids, np.array([0.5, 0.5]), np.array([0.1, 0.9]))
    assert unsure > 2 * sure
    assert len(inner_errors) == n and np.all(inner_errors >= 0)


def test_similarity_stage_adds_what_the_judge_misses() -> None:
    # The judge sees only half the signal; the similarity carries the other half.
    rng = np.random.default_rng(5)
    data = synthetic_data(questions=4, per_question=60, judge=lambda h, r: np.clip(0.5 * h + 0.25, 0, 1))
    human = data.human_fraction
    judged = np.clip(0.5 * human + rng.normal(0, 0.2, len(human)), 0, 1)
    data = replace(
        data,
        raw_points=judged * data.max_points,
        similarity=np.clip(human + rng.normal(0, 0.2, len(human)), 0, 1),
    )
    model, _ = fit_model(data, CalibrationConfig())
    [stack] = model.stacks
    assert stack.features == ["share", "similarity"] and stack.coefficients[1] > 0.2
    cv = cross_validate(data, CalibrationConfig(), folds=5)
    assert cv.kfold_without_similarity is not None
    with_similarity = np.abs(cv.kfold - human).mean()
    without = np.abs(cv.kfold_without_similarity - human).mean()
    assert with_similarity < 0.85 * without
    # Without a similarity for an item, the judge's calibrated share stands.
    ids = np.array(["1.1"], dtype=object)
    maps_only = model.model_copy(update={"stacks": []}).predict(ids, np.array([0.5]))
    np.testing.assert_allclose(model.predict(ids, np.array([0.5]), np.array([np.nan])), maps_only)
    assert model.predict(ids, np.array([0.5]), np.array([0.9]))[0] > maps_only[0]
