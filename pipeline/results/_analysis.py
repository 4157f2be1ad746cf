"""What analysts ask of a round first, computed from the typed frames: the score sheet, classical test
theory per question, judge–human agreement per question, and rounds over time.

Unscored is never zero: an item the judge could not score is NaN and is left out of means and
correlations; a missing answer is 0 points (the rubric's rule), as in the SQL examples of docs/QUERIES.md.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from pipeline.calibrate import HumanGrade, agreement, infer_scale, join_scores
from rubric_schema import Exam, natural_key

Points = Literal["raw", "calibrated", "final"]
"""Which points a helper reads: the judge's, the calibration's, or the final ones (see `item_points`)."""

AGREEMENT_METRICS = ("pearson", "spearman", "qwk", "mae", "exact", "adjacent", "alpha")
"""The per-question metrics, as `gradeflow calibrate` defines them (pipeline.calibrate)."""


def item_points(items: pd.DataFrame, points: Points) -> pd.Series:
    """The points of each item row.

    `final` is the human override where the tables have one (`final_points`), else the calibrated
    points, else the raw points: a round scored without a calibration or a review still has final
    points, and a round scored before `final_points` existed reads the same way.
    """
    if points == "raw":
        return items["raw_points"]
    if points == "calibrated":
        return items["calibrated_points"]
    if points != "final":
        raise ValueError(f"points must be 'raw', 'calibrated' or 'final', not {points!r}")
    final = items["calibrated_points"].fillna(items["raw_points"])
    if "final_points" in items:
        final = items["final_points"].astype("float64").fillna(final)
    return final


def _wide(items: pd.DataFrame, points: Points) -> pd.DataFrame:
    """Submissions × questions of points, questions in exam order."""
    frame = items.assign(points=item_points(items, points))
    wide = frame.pivot(index="submission_id", columns="question_id", values="points")
    wide.columns = pd.Index([str(c) for c in wide.columns], name="question_id")
    wide.index = pd.Index([str(s) for s in wide.index], name="submission_id")
    return wide.astype("float64")


def score_sheet(items: pd.DataFrame, submissions: pd.DataFrame, points: Points) -> pd.DataFrame:
    """One row per scored submission, one column per question; then the total and what qualifies it.

    `total` adds the scored questions, so with `n_unscored > 0` it is a lower bound (as raw_total is).
    Rejected files have no items and no row here; they stay in `submissions`.
    """
    wide = _wide(items, points)
    kept = submissions.set_index(submissions["submission_id"].astype(str)).reindex(wide.index)
    return pd.concat(
        [
            kept["candidate_id"].astype("string"),
            wide,
            wide.sum(axis=1, min_count=1).rename("total"),
            kept["max_total"],
            _wide(items, "raw").isna().sum(axis=1).rename("n_unscored"),
            kept["status"],
        ],
        axis=1,
    )


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; NaN with fewer than three pairs or a constant side (undefined, not zero)."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


_ITEM_COLUMNS = (
    "question_id", "max_points", "n", "n_missing", "n_unscored", "mean_fraction", "sd_fraction", "item_total",
    "item_rest",
)  # fmt: skip


def item_analysis(items: pd.DataFrame, points: Points) -> pd.DataFrame:
    """Classical test theory per question: difficulty and discrimination.

    `mean_fraction` is the difficulty index p (share of the maximum earned; low is hard). `item_total`
    correlates the question's points with the candidates' totals; `item_rest` with the total of the
    other questions, which is the discrimination to read (item_total is inflated by the item itself).
    A submission's unscored items are left out of its rest score and the item's own statistics.
    """
    wide = _wide(items, points)
    max_points = items.groupby("question_id", observed=True)["max_points"].max()
    max_points.index = max_points.index.astype(str)
    missing = items[items["kind"] == "missing"].groupby("question_id", observed=True).size()
    missing.index = missing.index.astype(str)
    total = wide.sum(axis=1, min_count=1)
    rows = []
    for question_id in wide.columns:
        values = wide[question_id]
        scored = values.notna() & total.notna()
        x = values[scored].to_numpy()
        fraction = values / max_points[question_id]
        rows.append(
            {
                "question_id": question_id,
                "max_points": float(max_points[question_id]),
                "n": int(values.notna().sum()),
                "n_missing": int(missing.get(question_id, 0)),
                "n_unscored": int(values.isna().sum()),
                "mean_fraction": fraction.mean(),
                "sd_fraction": fraction.std(),
                "item_total": _pearson(x, total[scored].to_numpy()),
                "item_rest": _pearson(x, (total[scored] - values[scored]).to_numpy()),
            }
        )
    return pd.DataFrame(rows, columns=list(_ITEM_COLUMNS)).set_index("question_id")


def agreement_by_question(
    items: pd.DataFrame, grades: list[HumanGrade], exam: Exam | None, points: Points
) -> pd.DataFrame:
    """Judge against human grades per question, with `gradeflow calibrate`'s join and metrics.

    The join is calibrate's (graders averaged; with the rubric, criterion grades go through its caps and
    best-k-of-n rules; missing answers and unscored items left out), and every question is measured on
    one scale inferred from all the grades, as the calibration report does, so the rows compare.
    """
    chosen = item_points(items, points)
    rows = [
        {**record, "raw_points": None if math.isnan(value) else value}
        for record, value in zip(
            items[["submission_id", "question_id", "kind", "max_points", "confidence"]]
            .astype({"submission_id": str, "question_id": str, "kind": str})
            .to_dict("records"),
            chosen.astype("float64"),
            strict=True,
        )
    ]
    data, _ = join_scores(rows, grades, exam=exam)
    columns = ["question_id", "n", "max_points", "judge_mean", "human_mean", "judge_minus_human", *AGREEMENT_METRICS]
    if not len(data):
        return pd.DataFrame(columns=columns).set_index("question_id")
    scale = infer_scale(data.human, data.max_points)
    judge = scale.rescale(data.raw_points, data.max_points)
    human = scale.rescale(data.human, data.max_points)
    table = []
    for question_id in pd.unique(data.question_id):
        mask = data.question_id == question_id
        metrics = agreement(judge[mask], human[mask], scale)
        table.append(
            {
                "question_id": str(question_id),
                "n": int(mask.sum()),
                "max_points": float(data.max_points[mask].max()),
                "judge_mean": float(data.raw_points[mask].mean()),
                "human_mean": float(data.human[mask].mean()),
                "judge_minus_human": float((data.raw_points[mask] - data.human[mask]).mean()),
                **{name: metrics[name] for name in AGREEMENT_METRICS},
            }
        )
    frame = pd.DataFrame(table, columns=columns)
    return frame.sort_values("question_id", key=lambda s: s.map(natural_key)).set_index("question_id")


def rounds_over_time(
    submissions: pd.DataFrame, items: pd.DataFrame, judge_calls: pd.DataFrame, points: Points
) -> pd.DataFrame:
    """One row per round, oldest first: who was scored, how they did, and with what judge and rubric.

    `scored_at` is when the round's last submission was scored. A round whose `rubric_sha` or `models`
    differ from the one before was scored against another rubric or judge: its totals do not compare as is.
    """
    per_submission = (
        items.assign(points=item_points(items, points), unscored=items["raw_points"].isna())
        .groupby(["round_id", "submission_id"], observed=True)
        .agg(
            total=("points", lambda s: s.sum(min_count=1)),
            max_total=("max_points", "sum"),
            unscored=("unscored", "sum"),
        )
        .reset_index()
    )
    per_submission["fraction"] = per_submission["total"] / per_submission["max_total"]
    scores = per_submission.groupby("round_id", observed=True).agg(
        n_scored=("submission_id", "size"),
        mean_total=("total", "mean"),
        sd_total=("total", "std"),
        median_total=("total", "median"),
        mean_fraction=("fraction", "mean"),
        n_unscored_items=("unscored", "sum"),
    )
    status = submissions.groupby("round_id", observed=True).agg(
        scored_at=("scored_at", "max"),
        n_submissions=("submission_id", "size"),
        n_rejected=("status", lambda s: int((s == "rejected").sum())),
        n_needs_review=("status", lambda s: int((s == "needs_review").sum())),
        rubric_sha=("rubric_sha", lambda s: ", ".join(sorted(s.dropna().astype(str).unique()))),
    )
    models = items.groupby("round_id", observed=True)["model"].agg(
        lambda s: ", ".join(sorted(s.dropna().astype(str).unique()))
    )
    calls = judge_calls.groupby("round_id", observed=True).agg(
        judge_calls=("sample", "size"),
        cache_hit_rate=("cache_hit", "mean"),
        mean_latency_ms=("latency_ms", "mean"),
    )
    frame = status.join(scores).join(models.rename("models")).join(calls)
    frame.index = frame.index.astype(str)
    frame = frame.fillna({"n_scored": 0, "n_unscored_items": 0, "judge_calls": 0})
    return frame.astype({"n_scored": "int64", "n_unscored_items": "int64", "judge_calls": "int64"}).sort_values(
        "scored_at"
    )
