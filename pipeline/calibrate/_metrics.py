"""Agreement between two sets of scores on one human scale, with bootstrap intervals.

Scores of questions with different maxima are first put on one reference scale (`Scale`), so a 7.5/10
and a 3.75/5 are the same score. Category metrics (QWK, exact/adjacent agreement, Krippendorff's α)
use the scale's categories: the score rounded to the human grading step.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import krippendorff
import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats
from sklearn.metrics import cohen_kappa_score, mean_absolute_error, root_mean_squared_error

METRIC_NAMES = ("pearson", "spearman", "qwk", "mae", "rmse", "exact", "adjacent", "alpha")
"""Every agreement metric, in the order tables show them."""

STEP_CANDIDATES = (1.0, 0.5, 0.25, 0.1)
"""Human grading steps `infer_scale` tries, coarsest first."""


class Scale(BaseModel):
    """The human scale metrics are reported on: a maximum and the grading step (0–5 in halves)."""

    model_config = ConfigDict(frozen=True)

    max_points: float = Field(gt=0)
    step: float = Field(gt=0)

    @property
    def n_categories(self) -> int:
        """Number of distinct grades: 0, step, 2·step, …, max."""
        return int(round(self.max_points / self.step)) + 1

    def rescale(self, points: np.ndarray, max_points: np.ndarray) -> np.ndarray:
        """Points of items with their own maxima → points on this scale."""
        return np.asarray(points, dtype=float) / np.asarray(max_points, dtype=float) * self.max_points

    def categories(self, values: np.ndarray) -> np.ndarray:
        """Values on this scale → grade indices 0 … n_categories-1 (rounded to the nearest step)."""
        return np.clip(np.rint(np.asarray(values, dtype=float) / self.step), 0, self.n_categories - 1).astype(
            int
        )


def infer_scale(points: np.ndarray, max_points: np.ndarray, *, share: float = 0.95) -> Scale:
    """Pick the modal maximum, and the coarsest step that at least `share` of the human grades sit on.

    A few off-step grades (a second grader's 7.5 on a 0–10 question) do not make the whole scale finer.
    """
    max_points = np.asarray(max_points, dtype=float)
    values, counts = np.unique(max_points, return_counts=True)
    reference = float(values[np.argmax(counts)])
    scaled = np.asarray(points, dtype=float) / max_points * reference
    for step in STEP_CANDIDATES:
        on_step = np.isclose(scaled / step, np.rint(scaled / step), atol=1e-6)
        if on_step.mean() >= share:
            return Scale(max_points=reference, step=step)
    return Scale(max_points=reference, step=STEP_CANDIDATES[-1])


class Estimate(BaseModel):
    """A metric and its bootstrap 95 % interval; None where undefined (constant scores, too few items)."""

    model_config = ConfigDict(frozen=True)

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _correlation(function: Callable[..., object]) -> Callable[[np.ndarray, np.ndarray], float]:
    def metric(pred: np.ndarray, human: np.ndarray) -> float:
        if len(pred) < 3 or np.ptp(pred) == 0 or np.ptp(human) == 0:
            return math.nan
        return float(function(pred, human)[0])  # type: ignore[index]

    return metric


def _qwk(pred_cat: np.ndarray, human_cat: np.ndarray, scale: Scale) -> float:
    return float(
        cohen_kappa_score(human_cat, pred_cat, weights="quadratic", labels=list(range(scale.n_categories)))
    )


def _alpha(pred_cat: np.ndarray, human_cat: np.ndarray) -> float:
    if np.ptp(np.concatenate([pred_cat, human_cat])) == 0:
        return math.nan
    data = np.vstack([human_cat, pred_cat]).astype(float)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="interval"))


def agreement(pred: np.ndarray, human: np.ndarray, scale: Scale) -> dict[str, float]:
    """Metrics of `pred` against `human`, both already on `scale`; NaN where a metric is undefined."""
    pred = np.asarray(pred, dtype=float)
    human = np.asarray(human, dtype=float)
    if len(pred) == 0:
        return dict.fromkeys(METRIC_NAMES, math.nan)
    pred_cat, human_cat = scale.categories(pred), scale.categories(human)
    functions: dict[str, Callable[[], float]] = {
        "pearson": lambda: _correlation(stats.pearsonr)(pred, human),
        "spearman": lambda: _correlation(stats.spearmanr)(pred, human),
        "qwk": lambda: _qwk(pred_cat, human_cat, scale),
        "mae": lambda: float(mean_absolute_error(human, pred)),
        "rmse": lambda: float(root_mean_squared_error(human, pred)),
        "exact": lambda: float(np.mean(pred_cat == human_cat)),
        "adjacent": lambda: float(np.mean(np.abs(pred_cat - human_cat) <= 1)),
        "alpha": lambda: _alpha(pred_cat, human_cat),
    }
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return {name: functions[name]() for name in METRIC_NAMES}


def agreement_batch(pred: np.ndarray, human: np.ndarray, scale: Scale) -> dict[str, np.ndarray]:
    """Every metric for many score vectors at once: rows of `pred` and `human` (shape resamples × items).

    The same definitions as `agreement`, in numpy over a whole batch: the library functions validate
    their input on every call, too slowly for a thousand bootstrap resamples of eight metrics
    (docs/BENCHMARKS.md, "Figures behind code choices"). Tests pin each row to `agreement`'s library values.
    Krippendorff's α is the interval α of two coders without missing values, in closed form.
    """
    pred = np.atleast_2d(np.asarray(pred, dtype=float))
    human = np.atleast_2d(np.asarray(human, dtype=float))
    n = pred.shape[1]
    pred_cat, human_cat = scale.categories(pred), scale.categories(human)
    k = scale.n_categories
    with np.errstate(all="ignore"):

        def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            a = a - a.mean(axis=1, keepdims=True)
            b = b - b.mean(axis=1, keepdims=True)
            r = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
            return np.where(np.isfinite(r), np.clip(r, -1, 1), np.nan)

        offsets = np.arange(len(pred))[:, None] * k * k
        counts = np.bincount((offsets + human_cat * k + pred_cat).ravel(), minlength=len(pred) * k * k)
        observed = counts.reshape(len(pred), k, k) / n
        expected = observed.sum(axis=2)[:, :, None] * observed.sum(axis=1)[:, None, :]
        weights = (np.arange(k)[:, None] - np.arange(k)[None, :]) ** 2
        qwk = 1 - (weights * observed).sum(axis=(1, 2)) / (weights * expected).sum(axis=(1, 2))
        pooled = np.concatenate([human_cat, pred_cat], axis=1).astype(float)
        spread = ((pooled - pooled.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        disagreement = ((human_cat - pred_cat) ** 2).sum(axis=1)
        alpha = 1 - (2 * n - 1) * disagreement / (2 * n * spread)
        small = n < 3
        return {
            "pearson": np.full(len(pred), np.nan) if small else pearson(pred, human),
            "spearman": np.full(len(pred), np.nan)
            if small
            else pearson(stats.rankdata(pred, axis=1), stats.rankdata(human, axis=1)),
            "qwk": np.where(np.isfinite(qwk), qwk, np.nan),
            "mae": np.abs(pred - human).mean(axis=1),
            "rmse": np.sqrt(((pred - human) ** 2).mean(axis=1)),
            "exact": (pred_cat == human_cat).mean(axis=1),
            "adjacent": (np.abs(pred_cat - human_cat) <= 1).mean(axis=1),
            "alpha": np.where(spread > 0, alpha, np.nan),
        }


def bootstrap_agreement(
    pred: np.ndarray,
    human: np.ndarray,
    scale: Scale,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Metrics (library values) with percentile bootstrap 95 % intervals over items.

    One set of resampled indices serves every metric, and a resample where a metric is undefined (all
    scores equal) is skipped for that metric instead of making the interval undefined, as
    scipy.stats.bootstrap would. The same `seed` gives the same resamples, so raw and calibrated
    intervals are paired.
    """
    pred = np.asarray(pred, dtype=float)
    human = np.asarray(human, dtype=float)
    point = agreement(pred, human, scale)
    if len(pred) < 3 or n_resamples <= 0:
        return {name: Estimate(value=_finite(point[name])) for name in METRIC_NAMES}
    rng = np.random.default_rng(seed)
    estimates: dict[str, Estimate] = {}
    draws: dict[str, list[np.ndarray]] = {name: [] for name in METRIC_NAMES}
    for chunk in np.array_split(np.arange(n_resamples), max(1, n_resamples * len(pred) // 2_000_000)):
        indices = rng.integers(0, len(pred), size=(len(chunk), len(pred)))
        for name, values in agreement_batch(pred[indices], human[indices], scale).items():
            draws[name].append(values)
    for name in METRIC_NAMES:
        values = np.concatenate(draws[name])
        finite = values[np.isfinite(values)]
        low, high = (
            np.percentile(finite, [2.5, 97.5]) if len(finite) >= 0.5 * n_resamples else (math.nan,) * 2
        )
        estimates[name] = Estimate(value=_finite(point[name]), ci_low=_finite(low), ci_high=_finite(high))
    return estimates
