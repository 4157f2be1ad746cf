"""`gradeflow exec RUBRIC QUESTION_ID FILE [--json]` on the seed rubric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradeflow_cli import app

from .conftest import ANSWERS, HERE

VARIANTS = HERE / "variants"

RUBRIC = Path(__file__).resolve().parents[2] / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"
runner = CliRunner()


@pytest.mark.e2e
def test_exec_prints_correctness_timing_and_the_exponent_as_json():
    outcome = runner.invoke(app, ["exec", str(RUBRIC), "1.2", str(ANSWERS / "lis_bisect.py"), "--json"])
    assert outcome.exit_code == 0, outcome.output
    result = json.loads(outcome.output)
    assert (result["task_id"], result["status"], result["checks"]) == (
        "lis",
        "ok",
        {"correct": True, "complexity": True},
    )
    assert 0.7 < result["complexity_exponent"] < 1.3
    assert any(t["test_id"].startswith("time_n") and t["candidate_ms"] > 0 for t in result["tests"])


@pytest.mark.e2e
def test_exec_runs_every_task_of_a_question_on_the_code_blocks_of_a_markdown_answer(tmp_path):
    body = "\n\n".join(
        (ANSWERS / f"{name}.py").read_text()
        for name in ("batchnorm_forward_torch", "batchnorm_backward_torch", "relu_backward_wrong")
    )
    sheet = tmp_path / "answer.md"
    sheet.write_text(f"BN 前向与反向如下：\n\n```python\n{body}\n```\n", encoding="utf-8")
    outcome = runner.invoke(app, ["exec", str(RUBRIC), "4.1", str(sheet)])
    assert outcome.exit_code == 0, outcome.output
    for line in (
        "batchnorm_forward (question 4.1): ok",
        "batchnorm_backward (question 4.1): ok",
        "relu_backward (question 4.1): failed",
    ):
        assert line in outcome.output


def test_exec_names_the_known_questions_for_an_unknown_one():
    outcome = runner.invoke(app, ["exec", str(RUBRIC), "99.9", str(ANSWERS / "lis_bisect.py")])
    assert outcome.exit_code == 1 and "99.9" in outcome.output


def test_exec_refuses_a_question_without_code_task():
    outcome = runner.invoke(app, ["exec", str(RUBRIC), "3.2", str(ANSWERS / "lis_bisect.py")])
    assert outcome.exit_code == 1 and "no code task" in outcome.output


def test_exec_without_bubblewrap_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("GRADEFLOW_EXEC_BWRAP", "/nonexistent/bwrap")
    outcome = runner.invoke(app, ["exec", str(RUBRIC), "1.1", str(ANSWERS / "topk_sort.py")])
    assert outcome.exit_code == 1 and "apt-get install bubblewrap" in outcome.output


@pytest.mark.e2e
def test_exec_says_which_callable_it_called(tmp_path):
    renamed = tmp_path / "answer.py"
    renamed.write_text((VARIANTS / "relu_backward_swapped.py").read_text(encoding="utf-8"), encoding="utf-8")
    outcome = runner.invoke(app, ["exec", str(RUBRIC), "4.1", str(renamed), "--json"])
    assert outcome.exit_code == 0, outcome.output
    results = {r["task_id"]: r for r in json.loads(outcome.output)}
    assert results["relu_backward"]["callable"] == "relu_grad" and results["relu_backward"]["checks"]["correct"]
    assert results["batchnorm_forward"]["status"] == "needs_review"  # relu_grad(x, grad_output) fits no BN task
    assert "relu_grad(x, grad_output)" in results["batchnorm_forward"]["reason"]
    shown = runner.invoke(app, ["exec", str(RUBRIC), "4.1", str(renamed)])
    assert "  called: relu_grad\n" in shown.output
    assert "note: called relu_grad (signature; keyword arguments)" in shown.output


@pytest.mark.parametrize(
    ("question", "answer", "words"),
    [
        ("99.9", ANSWERS / "lis_bisect.py", "no question '99.9'"),
        ("3.2", ANSWERS / "lis_bisect.py", "no code task"),
        ("1.2", Path("/nonexistent/answer.py"), "cannot read the answer"),
    ],
)
def test_exec_json_prints_json_when_it_refuses_an_answer(question, answer, words):
    outcome = runner.invoke(app, ["exec", str(RUBRIC), question, str(answer), "--json"])
    assert outcome.exit_code == 1
    refusal = json.loads(outcome.stdout)
    assert refusal["status"] == "refused" and words in refusal["reason"]


def test_exec_json_refuses_prose_without_code_as_json(tmp_path):
    sheet = tmp_path / "answer.md"
    sheet.write_text("I would use dynamic programming.\n", encoding="utf-8")
    outcome = runner.invoke(app, ["exec", str(RUBRIC), "1.2", str(sheet), "--json"])
    assert outcome.exit_code == 1
    assert json.loads(outcome.stdout) == {
        "status": "refused",
        "reason": f"{sheet}: no Python code that defines longest_increasing_subsequence or anything to call: "
        "nothing to run",
    }


def test_exec_json_on_a_broken_rubric_is_json(tmp_path):
    broken = tmp_path / "rubric.yaml"
    broken.write_text("id: x\n", encoding="utf-8")
    outcome = runner.invoke(app, ["exec", str(broken), "1.1", str(ANSWERS / "lis_bisect.py"), "--json"])
    assert outcome.exit_code == 1
    assert "sections" in json.loads(outcome.stdout)["reason"]
