"""`gradeflow exec` and `gradeflow score` pick the same code of an answer (issue 15 item 3).

The sandbox is replaced by a fake whose checks depend on the code it is given, so a difference in what
either command runs shows as a difference in checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from executors import ExecResult, ExecSettings
from gradeflow_cli import app
from gradeflow_cli import execute as exec_command
from pipeline.grading import run_code_tasks
from pipeline.ingest import Item, split_code
from rubric_schema import CodeTask, load_exam

SEED = Path(__file__).resolve().parents[2] / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"

# Question 4.1's answer: two tasks defined in Python, a shell block and an illustrative snippet that would
# fail at import. `score` runs only Python blocks and leaves the snippet out of tasks it does not define.
ANSWER = """BN 前向与反向：

```python
import numpy as np

def batchnorm_forward(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    return gamma * (x - mean) / np.sqrt(x.var(axis=0) + eps) + beta, None
```

```bash
python -c "print('not python to run')"
```

```python
def relu_backward(x, grad_output):
    return grad_output * (x > 0)
```

```python
batchnorm_forward(x, gamma, beta)  # an illustration: x is not defined here
```
"""


def fake_sandbox(task: CodeTask, code: str) -> ExecResult:
    """Checks that say which code was run: correct when it holds nothing but the task's own definitions."""
    clean = "bash" not in code and "an illustration" not in code
    return ExecResult(
        task_id=task.id, question_id=task.question_id, status="ok", checks={"correct": clean}, reason="fake"
    )


def test_exec_and_score_run_the_same_code_and_report_the_same_checks(tmp_path, monkeypatch) -> None:
    exam = load_exam(SEED)
    answer = tmp_path / "answer.md"
    answer.write_text(ANSWER, encoding="utf-8")

    executed: list[tuple[str, str]] = []

    def fake_batch(jobs: list[tuple[CodeTask, str]], *, settings: ExecSettings) -> list[ExecResult]:
        executed.extend((task.id, code) for task, code in jobs)
        return [fake_sandbox(task, code) for task, code in jobs]

    monkeypatch.setattr(exec_command, "run_code_tasks", fake_batch)
    outcome = CliRunner().invoke(app, ["exec", str(SEED), "4.1", str(answer), "--json"])
    assert outcome.exit_code == 0, outcome.output

    prose, blocks = split_code(ANSWER)
    item = Item(submission_id="s", question_id="4.1", text=prose, code_blocks=blocks)
    scored: list[tuple[str, str]] = []

    def record(task: CodeTask, code: str) -> ExecResult:
        scored.append((task.id, code))
        return fake_sandbox(task, code)

    score_checks = {r.task_id: r.checks for r in run_code_tasks(exam, item, record)}
    assert executed == scored
    assert [task_id for task_id, _ in scored] == ["batchnorm_forward", "relu_backward"]
    exec_results = outcome.output
    for task_id, checks in score_checks.items():
        assert checks == {"correct": True}
        assert f'"task_id": "{task_id}"' in exec_results


@pytest.mark.parametrize("suffix", [".py", ".md"])
def test_exec_refuses_an_answer_with_nothing_to_run(tmp_path, suffix: str) -> None:
    answer = tmp_path / f"answer{suffix}"
    answer.write_text("print('hello')\n" if suffix == ".py" else "只有文字，没有代码。\n", encoding="utf-8")
    outcome = CliRunner().invoke(app, ["exec", str(SEED), "1.2", str(answer)])
    assert outcome.exit_code == 1 and "nothing to run" in outcome.output
