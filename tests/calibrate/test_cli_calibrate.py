"""`gradeflow calibrate` on a small round output built here with the store's own writer."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from gradeflow_cli import app
from gradeflow_cli import calibrate as cli_calibrate
from pipeline.calibrate import CachedEmbedder, load_calibration
from pipeline.store import write_partition

from .conftest import synthetic_rows

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


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
    assert "judge only" in result.output
    calibration = load_calibration(out / "calibration.json")
    [stack] = calibration.model.stacks
    assert stack.features == ["share", "similarity"] and stack.n == 90


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


@pytest.mark.parametrize("given", ["file", "round"])
def test_calibrate_with_answers_fits_the_neighbour_feature_on_a_real_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """Three ADS questions: real answers and real grades; the judge is a stub and the embedder a fake.

    The answers come as the submission file with --rubric, or as a round directory whose round.yaml
    names the rubric.
    """
    ads = REPO / "eval_sets" / "ads-zh"
    with (ads / "human_grades.csv").open(encoding="utf-8") as handle:
        graded = [r for r in csv.DictReader(handle) if r["question_id"] in ("001", "002", "003")]
    rows = [
        {
            "round_id": "ads",
            "submission_id": r["submission_id"],
            "question_id": r["question_id"],
            "kind": "text",
            "max_points": 10.0,
            "raw_points": float(n % 11),  # no signal: whatever agreement there is comes from the answers
        }
        for n, r in enumerate(graded)
        if n % 2 == 0  # the round scored half of the graded answers; the other half are neighbours only
    ]
    out = tmp_path / "out"
    write_partition(out, "item_scores", "ads", rows)

    def characters(texts: list[str]) -> np.ndarray:
        """Character-bigram counts, hashed: similar Chinese answers share bigrams."""
        vectors = np.zeros((len(texts), 256), dtype=np.float32)
        for row, text in enumerate(texts):
            for a, b in zip(text, text[1:], strict=False):
                vectors[row, hash(a + b) % 256] += 1
        return vectors + 1e-3

    if given == "file":
        answers = ["--answers", str(ads / "submissions" / "answers.jsonl"), "--rubric", str(ads / "rubric.yaml")]
    else:
        round_dir = tmp_path / "round"
        (round_dir / "submissions").mkdir(parents=True)
        (round_dir / "round.yaml").write_text(f"round_id: ads\nexam: {ads / 'rubric.yaml'}\n", encoding="utf-8")
        (round_dir / "submissions" / "answers.jsonl").write_bytes((ads / "submissions" / "answers.jsonl").read_bytes())
        answers = ["--answers", str(round_dir)]
    embedder = CachedEmbedder(tmp_path / "cache", encode=characters, model_id="fake-bigrams")
    monkeypatch.setattr(cli_calibrate, "default_embedder", lambda cache_root: embedder)
    result = runner.invoke(
        app,
        [
            "calibrate", str(out), "--grades", str(ads / "human_grades.csv"), "--bootstrap", "0", *answers,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    others = len(graded) - len(rows)
    assert f"{len(rows)} of {len(rows)} answers embedded for the neighbour feature, and {others} graded" in (
        " ".join(result.output.split())
    )
    calibration = load_calibration(out / "calibration.json")
    pool = calibration.model.neighbours
    assert pool is not None and pool.model_id == "fake-bigrams" and sorted(pool.questions) == ["001", "002", "003"]
    assert sum(len(question.shares) for question in pool.questions.values()) == len(graded)
    assert calibration.model.stacks[0].features == ["share", "neighbours"]
    assert calibration.sources["answers"] == answers[1]
    assert calibration.evaluation is not None
    pooled = {row.key: row.metrics["pearson"].value for row in calibration.evaluation.pooled}
    assert pooled["kfold"] > pooled["kfold_without_similarity"] + 0.1, pooled


def test_calibrate_answers_without_a_rubric_asks_for_one(tmp_path: Path) -> None:
    out, sheet = _round_out(tmp_path)
    result = runner.invoke(
        app, ["calibrate", str(out), "--grades", str(sheet), "--answers", str(tmp_path / "answers.jsonl")]
    )
    assert result.exit_code == 1
    assert "pass --rubric too" in result.output
