"""Reading one decoded token as a score: the label scale of a criterion and the points a distribution gives.

A criterion is graded on the digits 0–5 (the share of its points the answer earns); a per-mention
criterion is asked for its count of mentions (0 up to the count that earns full points, at most 9).
Every label is one token of the model's vocabulary, so one decoded token carries the whole
distribution. Points are the distribution's expected value, snapped to the criterion's step; its spread
is the judge's confidence. A criterion with key points may instead be asked one key point at a time
(stated: 1 or 0), and its points are read from the number of key points stated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.judge._schema import allowed_points
from pipeline.scoring import mention_points
from rubric_schema import Criterion

GRADE_LEVELS = 5
"""The top grade of the 0–5 scale (prompts/distribution.user.*.md beside this module describes each level)."""
MAX_COUNT = 9
"""The largest count a one-digit label can carry."""


@dataclass(frozen=True)
class Scale:
    """The labels a criterion is graded with and the points each one stands for."""

    labels: tuple[str, ...]
    values: tuple[float, ...]
    counts: bool
    """Labels are counts of mentions (per-mention criteria), not grades."""


@dataclass(frozen=True)
class Reading:
    """What a distribution over a scale's labels says about a criterion."""

    points: float
    """The expected points snapped to the criterion's allowed values."""
    expected_points: float
    p_max: float
    confidence: float
    """1 at a point mass; falls with the distribution's spread (in points, relative to the maximum)."""
    distribution: dict[str, float]
    """Probability of each label's points value (keys are the points, as text)."""


KEY_POINT_SCALE = Scale(labels=("0", "1"), values=(0.0, 1.0), counts=False)
"""The labels of one key point's call: 1 the answer states it, 0 it does not (digits, as the shared system
prompt asks for)."""


def criterion_scale(criterion: Criterion) -> Scale:
    """The labels for one criterion: counts for per-mention criteria, else the 0–5 grade."""
    mention = criterion.per_mention
    if mention is not None:
        full = mention.full_at or math.ceil(criterion.points / mention.points_each - 1e-9)
        top = max(1, min(full, MAX_COUNT))
        counts = range(top + 1)
        return Scale(
            labels=tuple(str(k) for k in counts),
            values=tuple(mention_points(criterion, k) for k in counts),
            counts=True,
        )
    levels = range(GRADE_LEVELS + 1)
    return Scale(
        labels=tuple(str(k) for k in levels),
        values=tuple(criterion.points * k / GRADE_LEVELS for k in levels),
        counts=False,
    )


def snap(criterion: Criterion, points: float) -> float:
    """The allowed value nearest to `points` (ties go down: the judge does not round a doubt up)."""
    allowed = allowed_points(criterion)
    return min(allowed, key=lambda value: (abs(value - points), value))


def stated_count(p_stated: list[float]) -> list[float]:
    """The distribution of how many key points are stated, each independently with its own probability."""
    counts = [1.0]
    for p in p_stated:
        counts = [a * (1 - p) + b * p for a, b in zip([*counts, 0.0], [0.0, *counts], strict=True)]
    return counts


def read_key_points(criterion: Criterion, p_stated: list[float]) -> Reading:
    """Points, confidence and distribution of a criterion from the probability each key point is stated
    (each key point is worth an equal share of the criterion's points).
    """
    n = len(p_stated)
    values = tuple(criterion.points * k / n for k in range(n + 1))
    return _reading(criterion, values, stated_count(p_stated))


def read(criterion: Criterion, scale: Scale, probabilities: dict[str, float]) -> Reading:
    """Points, confidence and the stored distribution from the labels' probabilities."""
    weights = [probabilities.get(label, 0.0) for label in scale.labels]
    return _reading(criterion, scale.values, weights)


def _reading(criterion: Criterion, values: tuple[float, ...], weights: list[float]) -> Reading:
    total = sum(weights) or 1.0
    weights = [w / total for w in weights]
    expected = sum(w * v for w, v in zip(weights, values, strict=True))
    variance = sum(w * (v - expected) ** 2 for w, v in zip(weights, values, strict=True))
    spread = math.sqrt(variance) / criterion.points if criterion.points else 0.0
    distribution: dict[str, float] = {}
    for w, v in zip(weights, values, strict=True):
        key = f"{v:g}"
        distribution[key] = round(distribution.get(key, 0.0) + w, 4)
    return Reading(
        points=snap(criterion, expected),
        expected_points=round(expected, 4),
        p_max=round(max(weights), 4),
        confidence=round(max(0.0, 1.0 - 2.0 * spread), 4),
        distribution=distribution,
    )
