"""A code run's cache key: an edit to the exam's task module (trials, reference, checks) re-runs answers."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.grading import code_cache_key
from rubric_schema import load_exam

EXAM = Path(__file__).parents[2] / "eval_sets" / "ai-engineer-mid"


def test_the_key_follows_the_task_modules_content_not_its_place(tmp_path):
    task = load_exam(EXAM / "rubric.yaml").code_tasks[0]
    code = "def f(x):\n    return x\n"
    copy = tmp_path / "code_tasks.py"
    shutil.copy(task.module, copy)
    moved = task.model_copy(update={"module": copy})
    assert code_cache_key(moved, code) == code_cache_key(task, code)
    copy.write_text(copy.read_text() + "\n# a changed reference\n")
    assert code_cache_key(moved, code) != code_cache_key(task, code)
    assert code_cache_key(task, code) != code_cache_key(task, code + "\n")
