"""`gradeflow calibrate` on a small round output built here with the store's own writer."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.calibrate import load_calibration
from pipeline.cli import app
from pipeline.store import write_partition

from .conftest import synthetic_rows

runner = CliRunner()


def _round_out(tmp_path: Path, *, round_id: str = "r1") -> tuple[Path, Path]:
    rows, grades = synthetic_rows(questions=3, per_question=30)
    out = tmp_path / "out"
    write_partition(out, "item_scores", round_id, [{"round_id": round_id, **row} for row in rows])
    sheet = tmp_path / "grades.csv"
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission_id", "question_id", "criterion_id", "grader", "points"])
        writer.writerows([g.submission_id, g.question_id, "holistic", g.grader, g.points] for g in grades)
    return out, sheet


def test_calibrate_writes_artifact_report_and_fits_table(tmp_path: Path) -> None:
    out, sheet = _round_out(tmp_path)
    result = runner.invoke(app, ["calibrate", str(out), "--grades", str(sheet), "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    assert "90 with a judge score and a human grade" in result.output
    for label in ("judge raw", "(k-fold)", "(new question)", "human vs", "pearson", "qwk", "alpha"):
        assert label in result.output
    calibration = load_calibration(out / "calibration.json")
    assert calibration.join is not None and calibration.join.joined == 90
    report = out / "calibration-report"
    assert (report / "report.html").read_text(encoding="utf-8").count("<img") == 5
    for name in ("per_question.png", "scatter.png", "reliability.png", "residuals.png", "routing.png"):
        assert (report / name).stat().st_size > 1000, name
    fits = pq.read_table(
        out / "calibration_fits" / f"calibration_id={calibration.calibration_id}" / "part-0.parquet"
    ).to_pylist()
    assert sorted(r["question_id"] for r in fits) == ["*", "1.1", "2.1", "3.1"]
    assert all(r["n"] == (90 if r["question_id"] == "*" else 30) for r in fits)


def test_calibrate_with_a_similarity_sheet_shows_both_calibrations(tmp_path: Path) -> None:
    out, sheet = _round_out(tmp_path)
    similarity = tmp_path / "similarity.csv"
    with sheet.open(encoding="utf-8") as handle:
        graded = {(r["submission_id"], r["question_id"]) for r in csv.DictReader(handle)}
    lines = ["submission_id,question_id,similarity"]
    lines += [f"{sid},{qid},{(n * 37 % 100) / 100}" for n, (sid, qid) in enumerate(sorted(graded))]
    similarity.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["calibrate", str(out), "--grades", str(sheet), "--similarity", str(similarity), "--bootstrap", "0"],
    )
    assert result.exit_code == 0, result.output
    assert "no similarity" in result.output
    calibration = load_calibration(out / "calibration.json")
    assert calibration.model.similarity is not None and calibration.model.similarity.n == 90


def test_calibrate_again_replaces_its_partition(tmp_path: Path) -> None:
    out, sheet = _round_out(tmp_path)
    for _ in range(2):
        result = runner.invoke(
            app,
            [
                "calibrate",
                str(out),
                "--grades",
                str(sheet),
                "--bootstrap",
                "0",
                "--out",
                str(tmp_path / "cal" / "c.json"),
            ],
        )
        assert result.exit_code == 0, result.output
    assert len(list((out / "calibration_fits").glob("*/part-*.parquet"))) == 1
    assert (tmp_path / "cal" / "c-report" / "report.html").exists()


@pytest.mark.parametrize(
    ("sheet_text", "message"),
    [
        ("submission_id,question_id,grader,points\nother,9.9,g1,1\n", "nothing to calibrate"),
        ("submission_id,question_id,grader\n", "missing column(s) points"),
    ],
)
def test_calibrate_explains_unusable_grades(tmp_path: Path, sheet_text: str, message: str) -> None:
    out, _ = _round_out(tmp_path)
    sheet = tmp_path / "bad.csv"
    sheet.write_text(sheet_text, encoding="utf-8")
    result = runner.invoke(app, ["calibrate", str(out), "--grades", str(sheet)])
    assert result.exit_code == 1
    assert message in result.output


def test_calibrate_needs_a_round_output(tmp_path: Path) -> None:
    sheet = tmp_path / "g.csv"
    sheet.write_text("submission_id,question_id,grader,points\na,1.1,g1,1\n", encoding="utf-8")
    result = runner.invoke(app, ["calibrate", str(tmp_path / "nowhere"), "--grades", str(sheet)])
    assert result.exit_code == 1
    assert "no item_scores table" in result.output
