"""Fitting a calibration: judge score share → human score share, per question with a global fallback.

Mappings work on shares of the item's maximum (0…1), so questions worth 5 and 10 share one global map.
A question's own map is blended with the global one by its amount of data (partial pooling), so ten
answers nudge the global map instead of replacing it. A second stage blends the calibrated share with
the answer features an item has (similarity to the reference, graded-answer neighbour share). Everything
fitted is kept as plain numbers (the neighbour pool as vectors), so applying a calibration needs neither
scikit-learn nor the grade sheet.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import curve_fit
from scipy.special import expit
from scipy.stats import linregress
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GroupKFold

from pipeline.calibrate._data import CalibrationData
from pipeline.calibrate._neighbours import NeighbourPool, neighbour_shares

MappingName = Literal["isotonic", "linear", "sigmoid", "identity"]
MappingChoice = Literal["auto", "isotonic", "linear", "sigmoid"]
BAND_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8)
"""Lower edges of the score bands (shares of the maximum) the error model keeps apart."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IsotonicMap(_Frozen):
    """Monotone step-wise linear map, kept as its knots (sklearn's X_thresholds_/y_thresholds_)."""

    method: Literal["isotonic"] = "isotonic"
    x: list[float]
    y: list[float]

    def predict(self, share: np.ndarray) -> np.ndarray:
        """Interpolate between knots, flat beyond them: what IsotonicRegression(out_of_bounds="clip") does."""
        return np.interp(share, self.x, self.y)


class LinearMap(_Frozen):
    """y = slope·x + intercept (slope ≥ 0), clipped to 0…1."""

    method: Literal["linear"] = "linear"
    slope: float
    intercept: float

    def predict(self, share: np.ndarray) -> np.ndarray:
        """Straight line, clipped to a valid share."""
        return np.clip(self.slope * np.asarray(share, dtype=float) + self.intercept, 0.0, 1.0)


class SigmoidMap(_Frozen):
    """y = 1 / (1 + exp(-(a·x + b))), a ≥ 0: Platt-style, bends at the ends of the scale."""

    method: Literal["sigmoid"] = "sigmoid"
    a: float
    b: float

    def predict(self, share: np.ndarray) -> np.ndarray:
        """Logistic curve of the judge share."""
        return expit(self.a * np.asarray(share, dtype=float) + self.b)


class IdentityMap(_Frozen):
    """No data to fit: the judge's share stands."""

    method: Literal["identity"] = "identity"

    def predict(self, share: np.ndarray) -> np.ndarray:
        """Return the share itself, clipped."""
        return np.clip(np.asarray(share, dtype=float), 0.0, 1.0)


Mapping = Annotated[IsotonicMap | LinearMap | SigmoidMap | IdentityMap, Field(discriminator="method")]


class CalibrationConfig(_Frozen):
    """How a calibration is fitted; recorded in the artifact so a fit can be repeated."""

    mapping: MappingChoice = "auto"
    """"auto": isotonic with at least `min_isotonic` items, else the better of linear and sigmoid."""
    per_question: bool = True
    """Fit a map per question (blended with the global one); False: the global map everywhere."""
    min_question: int = Field(default=8, ge=2)
    """Fewer graded items than this and a question uses the global map alone."""
    min_isotonic: int = Field(default=30, ge=2)
    """Isotonic regression needs this many items; it overfits small samples."""
    shrinkage: float = Field(default=20.0, ge=0)
    """A question's map gets weight n / (n + shrinkage) against the global map ("fixed" pooling)."""
    pooling: Literal["fixed", "empirical"] = "fixed"
    """"fixed": per-question maps from `min_question` grades, weight n / (n + shrinkage), made for many
    grades. "empirical", made for a few (2 or more) per question: a linear global map plus each question's
    offset, shrunk by the empirical-Bayes weight τ² / (τ² + σ²/n) estimated from the between-question
    spread, and a guard: a question whose graded answers the judge orders the wrong way (negative
    Pearson) drops the judge and keeps its humans' mean, leaving the rest to the second-stage features."""
    error_folds: int = Field(default=5, ge=2)
    """Folds of the inner cross-validation whose residuals train the expected-error model."""
    min_similarity: int = Field(default=30, ge=3)
    """Items with every feature of a stack known (similarity, neighbour share) needed to fit that stack."""
    neighbours_k: int = Field(default=5, ge=1)
    """Graded answers of the same question that vote in the neighbour feature."""
    neighbours_temperature: float = Field(default=0.02, gt=0)
    """Softmax temperature over their cosines: e5 cosines of answers to one question sit within ≈ 0.2."""
    review_share: float = Field(default=0.2, ge=0, le=1)
    """Share of items the suggested review threshold sends to review (on the fitting data)."""
    seed: int = 0


def _fit_isotonic(x: np.ndarray, y: np.ndarray) -> IsotonicMap:
    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(x, y)
    return IsotonicMap(x=model.X_thresholds_.tolist(), y=model.y_thresholds_.tolist())


def _fit_linear(x: np.ndarray, y: np.ndarray) -> LinearMap:
    """Least squares with a non-negative slope (a calibration must not reverse the judge's order).

    In one dimension the constrained fit is the ordinary one, or the mean when the slope comes out negative.
    scipy's linregress rather than sklearn's LinearRegression(positive=True): same answer, without the
    input validation that dominates the thousands of small fits a cross-validation makes.
    """
    if np.ptp(x) == 0:
        return LinearMap(slope=0.0, intercept=float(np.mean(y)))
    fit = linregress(x, y)
    if fit.slope < 0:
        return LinearMap(slope=0.0, intercept=float(np.mean(y)))
    return LinearMap(slope=float(fit.slope), intercept=float(fit.intercept))


def _sigmoid(share: np.ndarray, a: float, b: float) -> np.ndarray:
    return expit(a * share + b)


def _sigmoid_jacobian(share: np.ndarray, a: float, b: float) -> np.ndarray:
    value = expit(a * share + b)
    slope = value * (1 - value)
    return np.column_stack([slope * share, slope])


def _fit_sigmoid(x: np.ndarray, y: np.ndarray) -> SigmoidMap | LinearMap:
    """Least-squares logistic curve; where it fails or comes out decreasing, the straight line stands."""
    if np.ptp(x) == 0:
        return _fit_linear(x, y)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            (a, b), _ = curve_fit(_sigmoid, x, y, p0=(4.0, -2.0), jac=_sigmoid_jacobian, method="lm", maxfev=400)
    except (RuntimeError, ValueError):
        return _fit_linear(x, y)
    if not (0 <= a <= 100 and abs(b) <= 100):
        return _fit_linear(x, y)
    return SigmoidMap(a=float(a), b=float(b))


def _sse(mapping: LinearMap | SigmoidMap, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((mapping.predict(x) - y) ** 2))


def fit_mapping(x: np.ndarray, y: np.ndarray, choice: MappingChoice = "auto", *, min_isotonic: int = 30) -> Mapping:
    """Fit judge shares `x` to human shares `y`; "auto" picks by the amount of data.

    Linear and sigmoid both have two parameters, so their in-sample errors compare fairly.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0:
        return IdentityMap()
    if choice == "isotonic" or (choice == "auto" and len(x) >= min_isotonic):
        return _fit_isotonic(x, y)
    if choice == "linear":
        return _fit_linear(x, y)
    if choice == "sigmoid":
        return _fit_sigmoid(x, y)
    linear, sigmoid = _fit_linear(x, y), _fit_sigmoid(x, y)
    return sigmoid if _sse(sigmoid, x, y) < _sse(linear, x, y) else linear


class QuestionFit(_Frozen):
    """A question's own map and its weight against the global map."""

    mapping: Mapping
    n: int
    """Graded items of the question the map was fitted on (its K)."""
    weight: float = Field(ge=0, le=1)
    judge_reversed: bool = False
    """The humans' order of its graded answers disagrees with the judge's: the judge's weight is zero."""
    judge_correlation: float | None = None
    """Pearson of judge and human shares over its graded answers (empirical pooling; None: too few)."""
    similarity_mean: float | None = None
    """Mean similarity of its graded answers (empirical pooling): an answer's similarity counts relative to it."""


class ErrorModel(_Frozen):
    """Expected absolute error (share of the maximum) = band error × question factor × confidence factor.

    Fitted on out-of-fold residuals, so it estimates the error on items the calibration has not seen.
    """

    band_mae: list[float]
    """Mean absolute residual per score band (`BAND_EDGES`) of the calibrated share."""
    question_factor: dict[str, float]
    """A question's residual level relative to all, shrunk towards 1 for small samples."""
    confidence_x: list[float] = Field(default_factory=list)
    """Knots of a decreasing isotonic map confidence → error factor; empty when confidence never varied."""
    confidence_y: list[float] = Field(default_factory=list)

    def predict(self, question_ids: np.ndarray, share: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """Estimate the absolute error, as a share of each item's maximum."""
        bands = np.clip(
            np.searchsorted(BAND_EDGES, np.asarray(share, dtype=float), side="right") - 1,
            0,
            len(BAND_EDGES) - 1,
        )
        error = np.asarray(self.band_mae)[bands]
        error = error * np.array([self.question_factor.get(str(q), 1.0) for q in question_ids])
        if self.confidence_x:
            confidence = np.asarray(confidence, dtype=float)
            known = np.isfinite(confidence)
            factor = np.interp(np.where(known, confidence, 0.0), self.confidence_x, self.confidence_y)
            error = error * np.where(known, factor, 1.0)
        return error


Feature = Literal["share", "similarity", "neighbours"]
ANSWER_FEATURES: tuple[Feature, ...] = ("similarity", "neighbours")
"""Features beside the judge's calibrated share: answer–reference similarity, graded-answer neighbours."""


class Stack(_Frozen):
    """Second stage: human share ≈ Σ coefficient · feature + intercept (coefficients ≥ 0), clipped to 0…1.

    Fitted on out-of-fold calibrated shares and leave-one-out neighbour shares, so it weighs each feature
    by how well it does on items it was not computed from.
    """

    features: list[Feature]
    coefficients: list[float]
    intercept: float
    n: int

    def predict(self, values: dict[Feature, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        """Stacked shares, and where they apply (every feature known)."""
        columns = [values.get(name) for name in self.features]
        if any(column is None for column in columns):
            return np.zeros(0), np.zeros(0, dtype=bool)
        matrix = np.column_stack([np.asarray(column, dtype=float) for column in columns])
        known = np.isfinite(matrix).all(axis=1)
        stacked = np.nan_to_num(matrix) @ np.asarray(self.coefficients) + self.intercept
        return np.clip(stacked, 0.0, 1.0), known


def apply_stacks(stacks: list[Stack], values: dict[Feature, np.ndarray | None]) -> np.ndarray:
    """Each item takes the first stack whose features it has (the fullest first); else its calibrated share."""
    share = values["share"]
    assert share is not None
    out = np.array(share, dtype=float)
    done = np.zeros(len(out), dtype=bool)
    for stack in stacks:
        stacked, known = stack.predict(values)
        if not known.any():
            continue
        use = known & ~done
        out[use] = stacked[use]
        done |= use
    return out


class CalibrationModel(_Frozen):
    """What a calibration applies: the maps, the second-stage stacks, the graded-answer pool, the error model."""

    global_mapping: Mapping
    questions: dict[str, QuestionFit] = Field(default_factory=dict)
    stacks: list[Stack] = Field(default_factory=list)
    """Fullest feature set first; an item uses the first whose features it has."""
    neighbours: NeighbourPool | None = None
    error: ErrorModel | None = None
    similarity_slope: float = 0.0
    """Empirical pooling: share gained per unit of similarity above the question's graded mean (first stage)."""

    def predict(
        self,
        question_ids: np.ndarray,
        raw_share: np.ndarray,
        similarity: np.ndarray | None = None,
        embedding: np.ndarray | None = None,
    ) -> np.ndarray:
        """Calibrated shares: the global map, blended with each question's own map where it has one, then
        the second stage with whatever answer features are given (`embedding`: the answers' unit vectors).
        """
        raw_share = np.asarray(raw_share, dtype=float)
        out = self.global_mapping.predict(raw_share)
        for question_id, fit in self.questions.items():
            rows = np.asarray(question_ids) == question_id
            if rows.any():
                out[rows] = fit.weight * fit.mapping.predict(raw_share[rows]) + (1 - fit.weight) * out[rows]
                if fit.similarity_mean is not None and similarity is not None:
                    above = np.asarray(similarity, dtype=float)[rows] - fit.similarity_mean
                    out[rows] += self.similarity_slope * np.nan_to_num(above)
        out = np.clip(out, 0.0, 1.0)
        neighbours = (
            None
            if self.neighbours is None or embedding is None
            else self.neighbours.predict(np.asarray(question_ids), np.asarray(embedding, dtype=np.float32))
        )
        return apply_stacks(self.stacks, {"share": out, "similarity": similarity, "neighbours": neighbours})

    def expected_error(self, question_ids: np.ndarray, share: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """Estimate the absolute error as a share of the maximum; NaN without an error model."""
        if self.error is None:
            return np.full(len(share), math.nan)
        return self.error.predict(question_ids, share, confidence)

    def method_of(self, question_id: str) -> str:
        """How a question is calibrated, as tables show it ("isotonic", "global:linear", …)."""
        fit = self.questions.get(question_id)
        if fit is None:
            return f"global:{self.global_mapping.method}"
        if fit.judge_reversed:
            return "question-mean (judge reversed)"
        return f"{fit.mapping.method}+global:{self.global_mapping.method}" if fit.weight < 1 else fit.mapping.method


def fit_maps(data: CalibrationData, config: CalibrationConfig) -> CalibrationModel:
    """Fit the global map and the per-question maps, without an error model."""
    if config.pooling == "empirical" and config.per_question:
        return _fit_empirical(data)
    x, y = data.raw_fraction, data.human_fraction
    global_mapping = fit_mapping(x, y, config.mapping, min_isotonic=config.min_isotonic)
    questions: dict[str, QuestionFit] = {}
    if config.per_question:
        for question_id in sorted(set(data.question_id.tolist())):
            rows = data.question_id == question_id
            n = int(rows.sum())
            if n < config.min_question:
                continue
            mapping = fit_mapping(x[rows], y[rows], config.mapping, min_isotonic=config.min_isotonic)
            questions[question_id] = QuestionFit(mapping=mapping, n=n, weight=n / (n + config.shrinkage))
    return CalibrationModel(global_mapping=global_mapping, questions=questions)


def shrinkage_weights(residuals: dict[str, np.ndarray]) -> dict[str, float]:
    """Empirical-Bayes weight of each question's mean residual against 0 (the global map): τ² / (τ² + σ²/n).

    σ² is the pooled within-question variance, τ² the between-question variance of the means less their
    sampling noise (method of moments, floored at 0). Few grades (small n) or little real spread between
    questions shrink a question towards the global map; many grades let its own offset stand.
    """
    sizes = np.array([len(r) for r in residuals.values()], dtype=float)
    means = np.array([r.mean() for r in residuals.values()])
    dof = sizes.sum() - len(sizes)
    if dof <= 0 or len(sizes) < 2:
        return dict.fromkeys(residuals, 0.0)
    sigma2 = sum(float(((r - r.mean()) ** 2).sum()) for r in residuals.values()) / dof
    tau2 = max(float(np.var(means, ddof=1)) - float(np.mean(sigma2 / sizes)), 0.0)
    if tau2 == 0:
        return dict.fromkeys(residuals, 0.0)
    return {q: tau2 / (tau2 + sigma2 / n) for q, n in zip(residuals, sizes, strict=True)}


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson of a question's graded answers; None with fewer than 3 or no spread on either side."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _centred(values: np.ndarray, question_id: np.ndarray) -> np.ndarray:
    """Each value less its question's mean: the within-question variation only."""
    out = np.asarray(values, dtype=float).copy()
    for q in set(question_id.tolist()):
        rows = question_id == q
        out[rows] -= out[rows].mean()
    return out


def _within_slopes(
    x: np.ndarray, similarity: np.ndarray | None, y: np.ndarray, question_id: np.ndarray, reversed_: set[str]
) -> tuple[float, float]:
    """Slopes (≥ 0) of judge share and similarity from within questions (a fixed-effects regression), so
    questions that differ in level do not flatten them; the judge's column is zero on reversed questions.
    """
    judge = np.where(np.isin(question_id, list(reversed_)), 0.0, _centred(x, question_id))
    columns = [judge] if similarity is None else [judge, _centred(similarity, question_id)]
    matrix = np.column_stack(columns)
    if not np.any(matrix):
        return 0.0, 0.0
    model = LinearRegression(positive=True, fit_intercept=False).fit(matrix, _centred(y, question_id))
    slopes = [float(c) for c in model.coef_]
    return slopes[0], slopes[1] if len(slopes) > 1 else 0.0


def _fit_empirical(data: CalibrationData) -> CalibrationModel:
    """The few-grade maps (`pooling="empirical"`): a global judge line with within-question slopes, each
    question's level shrunk towards it by empirical Bayes, a within-question similarity slope, the guard.
    """
    x, y = data.raw_fraction, data.human_fraction
    questions = sorted(set(data.question_id.tolist()))
    rows = {q: data.question_id == q for q in questions}
    correlation = {q: _correlation(x[rows[q]], y[rows[q]]) for q in questions}
    reversed_ = {q for q in questions if correlation[q] is not None and correlation[q] < 0}
    similarity = data.similarity if data.similarity is not None and np.isfinite(data.similarity).all() else None
    judge_slope, similarity_slope = _within_slopes(x, similarity, y, data.question_id, reversed_)
    global_mapping = LinearMap(slope=judge_slope, intercept=float(y.mean() - judge_slope * x.mean()))
    within = similarity_slope * _centred(similarity, data.question_id) if similarity is not None else 0.0
    judged = np.where(np.isin(data.question_id, list(reversed_)), y.mean(), global_mapping.predict(x))
    residual = y - within - judged
    weights = shrinkage_weights({q: residual[rows[q]] for q in questions})
    fits: dict[str, QuestionFit] = {}
    for q in questions:
        offset = float(residual[rows[q]].mean())
        if q in reversed_:
            mapping: Mapping = LinearMap(slope=0.0, intercept=float(y.mean()) + weights[q] * offset)
        else:
            mapping = LinearMap(slope=judge_slope, intercept=global_mapping.intercept + offset)
        fits[q] = QuestionFit(
            mapping=mapping,
            n=int(rows[q].sum()),
            weight=1.0 if q in reversed_ else weights[q],
            judge_reversed=q in reversed_,
            judge_correlation=correlation[q],
            similarity_mean=None if similarity is None else float(similarity[rows[q]].mean()),
        )
    return CalibrationModel(global_mapping=global_mapping, questions=fits, similarity_slope=similarity_slope)


def fold_ids(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold number per item; items of one submission share a fold, so a candidate is never on both sides."""
    n_groups = len(set(groups.tolist()))
    folds = np.zeros(len(groups), dtype=int)
    if n_groups < 2:
        return folds
    splitter = GroupKFold(n_splits=min(n_folds, n_groups), shuffle=True, random_state=seed)
    for number, (_, test) in enumerate(splitter.split(groups, groups=groups)):
        folds[test] = number
    return folds


def _fit_error_model(data: CalibrationData, oof_share: np.ndarray, config: CalibrationConfig) -> ErrorModel:
    residual = np.abs(oof_share - data.human_fraction)
    overall = float(residual.mean()) if len(residual) else 0.0
    bands = np.clip(np.searchsorted(BAND_EDGES, oof_share, side="right") - 1, 0, len(BAND_EDGES) - 1)
    band_mae = []
    for band in range(len(BAND_EDGES)):
        in_band = residual[bands == band]
        # Shrink sparse bands towards the overall error, like questions below.
        band_mae.append(float((in_band.sum() + 10 * overall) / (len(in_band) + 10)))
    base = np.asarray(band_mae)[bands]
    question_factor: dict[str, float] = {}
    for question_id in sorted(set(data.question_id.tolist())):
        rows = data.question_id == question_id
        ratio = residual[rows].sum() / max(base[rows].sum(), 1e-9)
        n = int(rows.sum())
        question_factor[question_id] = float((n * ratio + config.shrinkage) / (n + config.shrinkage))
    base = base * np.array([question_factor[str(q)] for q in data.question_id])
    confidence = data.confidence
    known = np.isfinite(confidence)
    confidence_x: list[float] = []
    confidence_y: list[float] = []
    if known.sum() >= 20 and np.ptp(confidence[known]) > 0:
        model = IsotonicRegression(increasing=False, out_of_bounds="clip", y_min=0.0).fit(
            confidence[known], residual[known] / np.maximum(base[known], 1e-9)
        )
        confidence_x, confidence_y = model.X_thresholds_.tolist(), model.y_thresholds_.tolist()
    return ErrorModel(
        band_mae=band_mae,
        question_factor=question_factor,
        confidence_x=confidence_x,
        confidence_y=confidence_y,
    )


def fit_model(data: CalibrationData, config: CalibrationConfig) -> tuple[CalibrationModel, np.ndarray]:
    """Fit maps on all of `data`, and an error model on the residuals of an inner cross-validation.

    Returns the model and the inner out-of-fold expected errors (share of the maximum), from which the
    review threshold is chosen.
    """
    maps = fit_maps(data, config)

    def similarity(rows: np.ndarray) -> np.ndarray | None:
        return None if data.similarity is None else data.similarity[rows]

    folds = fold_ids(data.submission_id, config.error_folds, config.seed)
    oof = np.full(len(data), math.nan)
    for fold in np.unique(folds):
        test = folds == fold
        if test.all():
            oof[test] = maps.predict(data.question_id[test], data.raw_fraction[test], similarity(test))
            continue
        inner = fit_maps(data.subset(~test), config)
        oof[test] = inner.predict(data.question_id[test], data.raw_fraction[test], similarity(test))
    values: dict[Feature, np.ndarray | None] = {
        "share": oof,
        "similarity": data.similarity,
        "neighbours": None if data.embedding is None else _leave_one_out_neighbours(data, config),
    }
    if config.pooling == "empirical" and config.per_question:
        values["similarity"] = None  # already in the first stage, relative to each question's graded answers
    stacks = _fit_stacks(values, data.human_fraction, config)
    oof = apply_stacks(stacks, values)
    error = _fit_error_model(data, oof, config)
    pool = (
        None
        if data.embedding is None
        else NeighbourPool.build(
            *_pool(data),
            model_id=data.embedding_model,
            k=config.neighbours_k,
            temperature=config.neighbours_temperature,
        )
    )
    model = maps.model_copy(update={"stacks": stacks, "neighbours": pool, "error": error})
    return model, error.predict(data.question_id, oof, data.confidence)


def _pool(data: CalibrationData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors, questions and human shares of every graded answer a fit may use: its items, then the extra."""
    assert data.embedding is not None
    extra = data.extra_pool
    if extra is None or not len(extra):
        return data.embedding, data.question_id, data.human_fraction
    return (
        np.concatenate([data.embedding, extra.embedding]),
        np.concatenate([data.question_id, extra.question_id]),
        np.concatenate([data.human_fraction, extra.share]),
    )


def _leave_one_out_neighbours(data: CalibrationData, config: CalibrationConfig) -> np.ndarray:
    """Neighbour share of every fitted item among the *other* graded answers of its question."""
    assert data.embedding is not None
    vectors, questions, shares = _pool(data)
    return neighbour_shares(
        data.embedding,
        data.question_id,
        vectors,
        questions,
        shares,
        k=config.neighbours_k,
        temperature=config.neighbours_temperature,
        leave_one_out=True,
    )


def _fit_stacks(
    values: dict[Feature, np.ndarray | None], human_share: np.ndarray, config: CalibrationConfig
) -> list[Stack]:
    """One stack per combination of the answer features that are there, the fullest first.

    A combination is fitted on the items that have all its features; with fewer than `min_similarity` of
    them, or a feature that never varies there, it is left out (its items fall back to a smaller one).
    """
    share = values["share"]
    assert share is not None
    present = [name for name in ANSWER_FEATURES if values[name] is not None]
    stacks = []
    for size in range(len(present), 0, -1):
        for combination in combinations(present, size):
            names: list[Feature] = ["share", *combination]
            matrix = np.column_stack([np.asarray(values[name], dtype=float) for name in names])
            known = np.isfinite(matrix).all(axis=1)
            if known.sum() < config.min_similarity or any(np.ptp(matrix[known, j]) == 0 for j in range(1, len(names))):
                continue
            model = LinearRegression(positive=True).fit(matrix[known], human_share[known])
            stacks.append(
                Stack(
                    features=names,
                    coefficients=[float(c) for c in model.coef_],
                    intercept=float(model.intercept_),
                    n=int(known.sum()),
                )
            )
    return stacks
