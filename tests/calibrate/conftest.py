"""Synthetic judge scores and human grades whose true relation each test knows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from pipeline.calibrate import CalibrationData, HumanGrade, join_scores


def synthetic_rows(
    *,
    questions: int = 4,
    per_question: int = 60,
    max_points: float = 5.0,
    judge: Callable[[np.ndarray, np.random.Generator], np.ndarray] = lambda h, rng: h,
    graders: int = 2,
    seed: int = 0,
) -> tuple[list[dict], list[HumanGrade]]:
    """Item rows (as item_scores holds them) and grades: humans grade on the 0.5 step, the judge is
    `judge(human_share, rng)` in shares, rounded to the 0.5 step.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    grades: list[HumanGrade] = []
    for q in range(questions):
        question_id = f"{q + 1}.1"
        human = rng.integers(0, int(max_points * 2) + 1, size=per_question) / 2
        judged = np.clip(np.round(judge(human / max_points, rng) * max_points * 2) / 2, 0, max_points)
        confidence = rng.uniform(0.2, 1.0, size=per_question)
        for s in range(per_question):
            submission_id = f"q{q + 1}-s{s:03d}"
            rows.append(
                {
                    "submission_id": submission_id,
                    "question_id": question_id,
                    "kind": "text",
                    "max_points": max_points,
                    "raw_points": float(judged[s]),
                    "confidence": float(confidence[s]),
                }
            )
            for g in range(graders):
                noise = 0.0 if g == 0 else float(rng.choice([-0.5, 0.0, 0.5]))
                grades.append(
                    HumanGrade(
                        submission_id=submission_id,
                        question_id=question_id,
                        grader=f"g{g + 1}",
                        points=float(np.clip(human[s] + noise, 0, max_points)),
                    )
                )
    return rows, grades


def synthetic_data(**kwargs) -> CalibrationData:
    """`synthetic_rows` joined."""
    data, _ = join_scores(*synthetic_rows(**kwargs))
    return data


@pytest.fixture
def generous_judge() -> CalibrationData:
    """Judge too generously in the middle of the scale: share ** 0.5, plus noise."""
    return synthetic_data(judge=lambda h, rng: np.clip(np.sqrt(h) + rng.normal(0, 0.05, len(h)), 0, 1))
