"""Cross-validated evaluation: raw and calibrated agreement side by side, per question and pooled.

Every calibrated figure comes from items the calibration was not fitted on: k-fold over submissions
(how well it does on new answers to known questions) and leave-question-out (on a question it has never
seen, only the global map applies). The routing curve uses the k-fold predictions and expected errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from pipeline.calibrate._data import CalibrationData
from pipeline.calibrate._fit import CalibrationConfig, fit_model, fold_ids
from pipeline.calibrate._metrics import Estimate, Scale, agreement, agreement_batch, bootstrap_agreement
from rubric_schema import natural_key

ROUTING_SHARES = tuple(round(0.05 * i, 2) for i in range(21))
"""Shares of items sent to human review on the coverage-vs-agreement curve."""


@dataclass(frozen=True)
class CrossValidated:
    """Out-of-fold predictions, as shares of each item's maximum."""

    kfold: np.ndarray
    kfold_error: np.ndarray
    """Expected absolute error of each k-fold prediction (share of the maximum)."""
    leave_question_out: np.ndarray
    """NaN when there is only one question."""
    folds: int
    kfold_without_similarity: np.ndarray | None = None
    """k-fold shares of the same models applied without the answer features (similarity, neighbours), as
    scoring does when it has none."""


def cross_validate(data: CalibrationData, config: CalibrationConfig, *, folds: int = 5) -> CrossValidated:
    """Out-of-fold calibrated shares: k-fold over submissions; leave-question-out with global maps only.

    The neighbour feature of a held-out item is computed from the fold model's pool, which holds only the
    training items' grades; a left-out question has no graded neighbours, so its items fall back to the
    stages without them (the cold start of a new question).
    """
    fold = fold_ids(data.submission_id, folds, config.seed)
    kfold = np.full(len(data), math.nan)
    kfold_error = np.full(len(data), math.nan)
    without_similarity = np.full(len(data), math.nan)
    for number in np.unique(fold):
        test = fold == number
        if test.all():
            continue
        model, _ = fit_model(data.subset(~test), config)
        part = data.subset(test)
        kfold[test] = model.predict(part.question_id, part.raw_fraction, part.similarity, part.embedding)
        kfold_error[test] = model.expected_error(part.question_id, kfold[test], part.confidence)
        without_similarity[test] = model.predict(part.question_id, part.raw_fraction)
    leave_out = np.full(len(data), math.nan)
    questions = sorted(set(data.question_id.tolist()))
    if len(questions) > 1:
        global_only = config.model_copy(update={"per_question": False})
        for question_id in questions:
            test = data.question_id == question_id
            train = data.subset(~test)
            if train.extra_pool is not None:
                train = train.with_pool(train.extra_pool.question_id != question_id)
            model, _ = fit_model(train, global_only)
            part = data.subset(test)
            leave_out[test] = model.predict(part.question_id, part.raw_fraction, part.similarity, part.embedding)
    return CrossValidated(
        kfold=kfold,
        kfold_error=kfold_error,
        leave_question_out=leave_out,
        folds=int(len(np.unique(fold))),
        kfold_without_similarity=None if data.similarity is None and data.embedding is None else without_similarity,
    )


class MetricRow(BaseModel):
    """One line of the pooled metrics table: what is compared, on how many items, every metric with its CI."""

    model_config = ConfigDict(frozen=True)

    key: Literal["raw", "kfold", "kfold_without_similarity", "leave_question_out", "human"]
    """Raw judge; calibrated k-fold (with and without the answer features); question left out; human vs human."""
    label: str
    n: int
    metrics: dict[str, Estimate]


class QuestionRow(BaseModel):
    """Agreement on one question, raw and calibrated (k-fold), with the calibrated QWK's interval."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    method: str
    n: int
    raw: dict[str, float | None]
    calibrated: dict[str, float | None]
    qwk_ci_low: float | None = None
    qwk_ci_high: float | None = None


class RoutingPoint(BaseModel):
    """Agreement after humans review a share of items: the highest expected errors first, or at random."""

    model_config = ConfigDict(frozen=True)

    share: float
    qwk: float | None
    pearson: float | None
    mae: float | None
    random_qwk: float | None
    random_mae: float | None


class Evaluation(BaseModel):
    """Everything the report and the calibration_fits table show."""

    model_config = ConfigDict(frozen=True)

    scale: Scale
    folds: int
    n: int
    pooled: list[MetricRow]
    per_question: list[QuestionRow]
    routing: list[RoutingPoint]


def _clean(values: dict[str, float]) -> dict[str, float | None]:
    return {k: (float(v) if math.isfinite(v) else None) for k, v in values.items()}


def human_pair(data: CalibrationData) -> tuple[str, str] | None:
    """Pick the two graders with the most items graded by both, for human–human agreement."""
    names = sorted(data.graders)
    best: tuple[int, tuple[str, str]] | None = None
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            both = int((np.isfinite(data.graders[first]) & np.isfinite(data.graders[second])).sum())
            if both >= 3 and (best is None or both > best[0]):
                best = (both, (first, second))
    return None if best is None else best[1]


def routing_curve(
    pred: np.ndarray,
    human: np.ndarray,
    expected_error: np.ndarray,
    scale: Scale,
    *,
    seed: int = 0,
    repeats: int = 20,
) -> list[RoutingPoint]:
    """Coverage against agreement: reviewed items take the human score, the rest keep the prediction."""
    n = len(pred)
    if n == 0:
        return []
    order = np.argsort(-np.nan_to_num(expected_error, nan=-np.inf), kind="stable")
    rng = np.random.default_rng(seed)
    rankings = [order, *(rng.permutation(n) for _ in range(repeats))]
    finals = []
    for share in ROUTING_SHARES:
        k = int(round(share * n))
        for ranking in rankings:
            final = pred.copy()
            final[ranking[:k]] = human[ranking[:k]]
            finals.append(final)
    metrics = agreement_batch(np.array(finals), np.broadcast_to(human, (len(finals), n)), scale)
    per_share = {name: values.reshape(len(ROUTING_SHARES), len(rankings)) for name, values in metrics.items()}
    return [
        RoutingPoint(
            share=share,
            **_clean(
                {
                    "qwk": per_share["qwk"][i, 0],
                    "pearson": per_share["pearson"][i, 0],
                    "mae": per_share["mae"][i, 0],
                    "random_qwk": float(np.nanmean(per_share["qwk"][i, 1:])) if repeats else math.nan,
                    "random_mae": float(np.nanmean(per_share["mae"][i, 1:])) if repeats else math.nan,
                }
            ),
        )
        for i, share in enumerate(ROUTING_SHARES)
    ]


def evaluate(
    data: CalibrationData,
    cv: CrossValidated,
    scale: Scale,
    *,
    methods: dict[str, str],
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> Evaluation:
    """Pooled metrics (raw, k-fold, leave-question-out, human–human), per-question rows, the routing curve.

    `methods` names each question's calibration method as the final fit applies it.
    """
    human = scale.rescale(data.human, data.max_points)
    raw = scale.rescale(data.raw_points, data.max_points)
    kfold = cv.kfold * scale.max_points
    leave_out = cv.leave_question_out * scale.max_points
    pooled = [
        MetricRow(
            key="raw",
            label="judge, raw",
            n=len(data),
            metrics=bootstrap_agreement(raw, human, scale, n_resamples=n_bootstrap, seed=seed),
        ),
        MetricRow(
            key="kfold",
            label=f"judge, calibrated ({cv.folds}-fold)",
            n=len(data),
            metrics=bootstrap_agreement(kfold, human, scale, n_resamples=n_bootstrap, seed=seed),
        ),
    ]
    if cv.kfold_without_similarity is not None:
        plain = cv.kfold_without_similarity * scale.max_points
        pooled.append(
            MetricRow(
                key="kfold_without_similarity",
                label=f"judge, calibrated ({cv.folds}-fold), without the answer features",
                n=len(data),
                metrics=bootstrap_agreement(plain, human, scale, n_resamples=n_bootstrap, seed=seed),
            )
        )
    if np.isfinite(leave_out).all() and len(leave_out):
        pooled.append(
            MetricRow(
                key="leave_question_out",
                label="judge, calibrated (leave-question-out)",
                n=len(data),
                metrics=bootstrap_agreement(leave_out, human, scale, n_resamples=n_bootstrap, seed=seed),
            )
        )
    pair = human_pair(data)
    if pair is not None:
        first, second = (scale.rescale(data.graders[g], data.max_points) for g in pair)
        both = np.isfinite(first) & np.isfinite(second)
        pooled.append(
            MetricRow(
                key="human",
                label=f"human {pair[0]} vs {pair[1]}",
                n=int(both.sum()),
                metrics=bootstrap_agreement(first[both], second[both], scale, n_resamples=n_bootstrap, seed=seed),
            )
        )
    per_question = []
    for question_id in sorted(set(data.question_id.tolist()), key=natural_key):
        rows = data.question_id == question_id
        qwk = bootstrap_agreement(kfold[rows], human[rows], scale, n_resamples=n_bootstrap, seed=seed)["qwk"]
        per_question.append(
            QuestionRow(
                question_id=question_id,
                method=methods.get(question_id, "global"),
                n=int(rows.sum()),
                raw=_clean(agreement(raw[rows], human[rows], scale)),
                calibrated=_clean(agreement(kfold[rows], human[rows], scale)),
                qwk_ci_low=qwk.ci_low,
                qwk_ci_high=qwk.ci_high,
            )
        )
    return Evaluation(
        scale=scale,
        folds=cv.folds,
        n=len(data),
        pooled=pooled,
        per_question=per_question,
        routing=routing_curve(kfold, human, cv.kfold_error, scale, seed=seed),
    )
