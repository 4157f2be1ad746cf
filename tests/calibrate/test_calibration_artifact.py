"""The artifact: a JSON round trip that applies exactly as the fitted object did, and clear load errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.calibrate import (
    FORMAT,
    Calibration,
    CalibrationConfig,
    CalibrationData,
    CalibrationFileError,
    calibrate,
    load_calibration,
    save_calibration,
)

from .conftest import synthetic_data


@pytest.fixture(scope="module")
def fitted() -> Calibration:
    data = synthetic_data(judge=lambda h, rng: np.clip(np.sqrt(h) + rng.normal(0, 0.05, len(h)), 0, 1))
    calibration, _ = calibrate(data, CalibrationConfig(), folds=4, n_bootstrap=50)
    return calibration


def test_artifact_round_trip_applies_identically(fitted: Calibration, tmp_path: Path) -> None:
    path = save_calibration(fitted, tmp_path / "cal.json")
    loaded = load_calibration(path)
    assert loaded == fitted
    for question_id in ("1.1", "3.1", "never-seen"):
        for raw in (0.0, 1.5, 2.5, 5.0):
            assert loaded.apply(question_id, raw, 5.0, confidence=0.5) == fitted.apply(
                question_id, raw, 5.0, confidence=0.5
            )
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["format"] == FORMAT
    assert payload["data_sha256"] == fitted.data_sha256 and len(payload["data_sha256"]) == 64
    assert payload["gradeflow_version"] and payload["config"]["mapping"] == "auto"
    assert payload["evaluation"]["pooled"][0]["metrics"]["pearson"]["ci_low"] is not None
    assert not list(tmp_path.glob(".*.tmp")), "the temporary file was left behind"


def test_apply_is_monotone_bounded_and_scales_with_the_item_maximum(fitted: Calibration) -> None:
    values = [fitted.apply("1.1", raw, 5.0)[0] for raw in np.linspace(0, 5, 11)]
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    assert 0 <= values[0] and values[-1] <= 5
    # The same share of a 10-point question calibrates to twice the points.
    five, error_five = fitted.apply("new", 2.5, 5.0)
    ten, error_ten = fitted.apply("new", 5.0, 10.0)
    assert ten == pytest.approx(2 * five, abs=1e-3) and error_ten == pytest.approx(2 * error_five, abs=1e-3)
    # The biased judge's 2.5/5 is worth about 1.25 to a human (share 0.5 → 0.25).
    assert five == pytest.approx(1.25, abs=0.4)


def test_apply_refuses_an_unscored_item(fitted: Calibration) -> None:
    with pytest.raises(ValueError, match="question 1.1: raw_points"):
        fitted.apply("1.1", float("nan"), 5.0)
    with pytest.raises(ValueError, match="max_points"):
        fitted.apply("1.1", 1.0, 0.0)


def test_review_reason_names_the_expected_error(fitted: Calibration) -> None:
    limit = fitted.review_threshold * 5
    assert fitted.review_reason(limit * 0.9, 5.0) is None
    reason = fitted.review_reason(limit * 1.5, 5.0)
    assert reason is not None and reason.kind == "calibration" and "expects an error of" in reason.text


def test_fits_rows_cover_each_question_and_all_items(fitted: Calibration) -> None:
    rows = fitted.fits_rows()
    assert [r["question_id"] for r in rows] == ["*", "1.1", "2.1", "3.1", "4.1"]
    assert all(r["calibration_id"] == fitted.calibration_id for r in rows)
    assert rows[0]["n"] == 240 and rows[1]["n"] == 60
    assert all(r["ci_low"] <= r["qwk"] <= r["ci_high"] for r in rows)


def test_the_data_hash_changes_when_a_grade_does() -> None:
    data = synthetic_data(questions=1, per_question=10)
    human = data.graders["g1"].copy()
    human[0] += 0.5
    changed = CalibrationData(
        submission_id=data.submission_id,
        question_id=data.question_id,
        max_points=data.max_points,
        raw_points=data.raw_points,
        confidence=data.confidence,
        human=data.human,
        graders={**data.graders, "g1": human},
    )
    assert changed.sha256() != data.sha256()
    assert data.subset(np.arange(len(data))[::-1]).sha256() == data.sha256()


def test_load_errors_name_the_file_and_the_field(fitted: Calibration, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something/2"}), encoding="utf-8")
    with pytest.raises(CalibrationFileError, match=r"other\.json: format: expected 'gradeflow\.calibration/2'"):
        load_calibration(other)
    broken = tmp_path / "broken.json"
    payload = json.loads(fitted.model_dump_json())
    payload["model"]["global_mapping"] = {"method": "isotonic", "x": "not a list"}
    broken.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(CalibrationFileError, match=r"broken\.json: model\.global_mapping\.isotonic\.x"):
        load_calibration(broken)
    with pytest.raises(CalibrationFileError, match="missing.json: cannot read"):
        load_calibration(tmp_path / "missing.json")
