"""Exams bring their own code tasks (issue 15): a module next to the rubric, loaded by the harness in the sandbox.

The kernels-mini exam declares a softmax task that executors/ knows nothing of; its answers run end to end
through the real sandbox. The array mode (numpy or torch inputs) follows what an answer imports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from executors import ExecSettings, TaskModuleError, run_code_task, run_code_tasks, task_registry
from executors.harness._registry import load_tasks
from executors.harness._values import array_mode
from rubric_schema import RubricError, load_exam

from .conftest import ROOT, SEED, SOFTMAX_MODULE

KERNELS = ROOT / "eval_sets" / "kernels-mini"
TORCH_ANSWER_SAYING_NUMPY = '''
def softmax(x):
    """Like numpy's softmax, with the max taken out first; fails unless it was handed tensors."""
    if not hasattr(x, "clone"):
        raise TypeError(f"expected a tensor, got {type(x).__name__}")
    e = (x - x.max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=-1, keepdim=True)
'''


def test_the_engine_holds_no_exam_content():
    """The softmax task and the seed's references live in their exams' folders, not in executors/."""
    engine = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "executors").rglob("*.py"))
    assert all(word not in engine for word in ("softmax", "F.scaled_dot_product_attention", "clip_grad_norm_"))
    assert "softmax" in load_tasks(SOFTMAX_MODULE).tasks and "softmax" not in SEED.tasks


def test_a_rubric_points_its_code_tasks_at_its_own_module():
    exam = load_exam(KERNELS / "rubric.yaml")
    (task,) = exam.code_tasks
    assert task.module == SOFTMAX_MODULE.resolve()
    assert "module" not in task.model_dump()  # a path on this machine is not rubric content
    assert task_registry(task.module).get("softmax").timing.kind == "speed"


@pytest.mark.e2e
def test_a_new_exams_task_runs_end_to_end_through_the_sandbox():
    (task,) = load_exam(KERNELS / "rubric.yaml").code_tasks
    names = ["softmax_torch_stable", "softmax_numpy_stable", "softmax_numpy_naive"]
    codes = [(KERNELS / "answers" / f"{name}.py").read_text(encoding="utf-8") for name in names]
    settings = ExecSettings(workers=1, speed_repeats=3)
    stable_torch, stable_numpy, naive, saying_numpy = run_code_tasks(
        [(task, code) for code in [*codes, TORCH_ANSWER_SAYING_NUMPY]], settings=settings
    )
    assert stable_torch.status == "ok" and stable_torch.checks == {"correct": True, "speed": True}, stable_torch.reason
    assert [t.test_id for t in stable_torch.tests][:4] == ["shape4x8", "shape3x5x17", "shape1x1", "logits_near_1000"]
    assert stable_numpy.checks["correct"] and stable_numpy.callable == "stable_softmax", stable_numpy.reason
    assert "8x64_float16" in [t.test_id for t in stable_numpy.tests]  # numpy answers get numpy's half type
    assert naive.status == "failed" and not naive.checks["correct"]
    assert "logits_near_1000: output holds NaN or infinity" in naive.reason
    assert saying_numpy.checks["correct"], saying_numpy.reason  # a comment saying numpy does not flip the mode


def test_array_mode_follows_the_imports_not_the_text():
    assert array_mode("import numpy as np\ndef f(x): return np.tanh(x)") == "numpy"
    assert array_mode("from numpy.linalg import norm\n") == "numpy"
    assert array_mode("# numpy would do this with np.where\ndef f(x): return x") == "torch"
    assert array_mode('def f(x):\n    """Works like numpy."""\n    return x') == "torch"
    assert array_mode("import numpy\nimport torch\n") == "torch"
    assert array_mode("import numpy as np\n# not torch, just numpy\n") == "numpy"
    assert array_mode("def broken(:\n numpy") == "torch"


def write_module(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "code_tasks.py"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_module_without_tasks_or_that_fails_is_named_in_the_error(tmp_path):
    with pytest.raises(TaskModuleError, match="must define TASKS"):
        load_tasks(write_module(tmp_path, "TASKS = [1]\n"))
    with pytest.raises(TaskModuleError, match="failed to load: ZeroDivisionError"):
        load_tasks(write_module(tmp_path, "1 / 0\n"))
    with pytest.raises(TaskModuleError, match="cannot read"):
        load_tasks(tmp_path / "absent.py")
    twice = "from gradeflow_task_api import Contract, Task\n" + (
        "TASKS = [Task(id='a', contract=Contract(()), trials=list, reference=len, judge=print)] * 2\n"
    )
    with pytest.raises(TaskModuleError, match="code task\\(s\\) a more than once"):
        load_tasks(write_module(tmp_path, twice))


def test_a_declared_module_that_is_missing_fails_the_rubric(rubric):
    task = {"id": "t", "question_id": "1.1", "entrypoint": "f", "signature": "def f(x)"}
    path = rubric.write(rubric.exam(rubric.question("1.1", 2), code_tasks=[task], code_tasks_module="tasks/k.py"))
    with pytest.raises(RubricError, match="code_tasks_module: no file .*tasks/k.py"):
        load_exam(path)


def test_a_missing_module_or_task_id_is_an_error_result_not_a_crash(rubric, tmp_path):
    task = {"id": "softmax2", "question_id": "1.1", "entrypoint": "f", "signature": "def f(x)"}
    exam = load_exam(rubric.write(rubric.exam(rubric.question("1.1", 2), code_tasks=[task])))
    missing = run_code_task(exam.code_tasks[0], "def f(x): return x", settings=ExecSettings())
    assert missing.status == "error" and f"{tmp_path / 'code_tasks.py'}" in missing.reason
    write_module(tmp_path, SOFTMAX_MODULE.read_text(encoding="utf-8"))
    unknown = run_code_task(exam.code_tasks[0], "def f(x): return x", settings=ExecSettings())
    assert unknown.status == "error" and "defines no code task 'softmax2' (it defines: softmax)" in unknown.reason
    assert not any(unknown.checks.values())
