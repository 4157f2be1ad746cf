"""ExecResult.checks is what pipeline.scoring consumes: points follow the seed rubric's code references."""

from __future__ import annotations

from pathlib import Path

import pytest

from executors import ExecSettings, run_code_tasks
from pipeline.grading import run_code_tasks as grading_runs
from pipeline.ingest import CodeBlock, Item
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


@pytest.mark.e2e
def test_a_renamed_answer_earns_what_the_declared_name_earns_and_the_row_names_what_was_called():
    """Grading runs the task on an answer that names its function as candidates do (issue 11)."""
    exam = load_exam(RUBRIC)
    declared = answer("lis_bisect")
    renamed = declared.replace("def longest_increasing_subsequence(nums)", "def lis(arr)").replace("nums", "arr")
    assert "longest_increasing_subsequence" not in renamed

    def execute(task, code):
        return run_code_tasks([(task, code)], settings=ExecSettings(workers=1))[0]

    runs = {}
    for name, code in (("declared", declared), ("renamed", renamed)):
        blocks = [CodeBlock(language="python", code=code)]
        item = Item(submission_id=name, question_id="1.2", text="", code_blocks=blocks)
        runs[name] = grading_runs(exam, item, execute)
    assert [r.checks for r in runs["renamed"]] == [r.checks for r in runs["declared"]] == [
        {"correct": True, "complexity": True}
    ]
    assert (runs["declared"][0].callable, runs["renamed"][0].callable) == ("longest_increasing_subsequence", "lis")
    snippet = Item(submission_id="s", question_id="1.2", text="", code_blocks=[CodeBlock(code="print(lis([1]))")])
    assert grading_runs(exam, snippet, execute) == []
