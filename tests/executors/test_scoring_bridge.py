"""ExecResult.checks is what pipeline.scoring consumes: points follow the seed rubric's code references."""

from __future__ import annotations

from pathlib import Path

import pytest

from executors import ExecSettings, run_code_tasks
from pipeline.scoring import code_points
from rubric_schema import load_exam

from .conftest import answer

RUBRIC = Path(__file__).resolve().parents[2] / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"


@pytest.mark.e2e
def test_lis_answers_earn_the_seed_rubrics_code_points():
    exam = load_exam(RUBRIC)
    question, task = exam.question("1.2"), exam.code_task("lis")
    names = ("lis_bisect", "lis_dp", "lis_length_only")
    results = dict(
        zip(names, run_code_tasks([(task, answer(n)) for n in names], settings=ExecSettings()), strict=True)
    )
    nlogn, reconstruct = question.criterion("nlogn"), question.criterion("reconstruct")
    points = {
        n: (code_points(nlogn, r.checks), code_points(reconstruct, r.checks)) for n, r in results.items()
    }
    # nlogn needs both checks (award: all): a correct O(n^2) answer earns only the reconstruction point
    assert points == {"lis_bisect": (3.0, 1.0), "lis_dp": (0.0, 1.0), "lis_length_only": (0.0, 0.0)}
