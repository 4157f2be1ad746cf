"""The round's sandboxes (issue 15 item 5): opened for the round, not looked up in the process."""

from __future__ import annotations

from pathlib import Path

from executors import ExecSettings
from flows.sandboxes import round_sandboxes
from rubric_schema import load_exam

SEED = Path(__file__).resolve().parents[2] / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"


def test_a_task_without_checks_is_refused_as_the_executors_refuse_it_and_starts_no_sandbox(tmp_path) -> None:
    task = load_exam(SEED).code_tasks[0]
    unknown = task.model_copy(update={"id": "no_such_task"})
    orphan = task.model_copy(update={"module": None})
    missing = task.model_copy(update={"module": tmp_path / "gone.py"})
    with round_sandboxes(ExecSettings(bwrap=str(tmp_path / "no-bwrap"))) as sandboxes:
        results = [sandboxes.run(t, "def f(): pass") for t in (unknown, orphan, missing)]
        assert not sandboxes._pools  # nothing was started for them
    assert [r.status for r in results] == ["error"] * 3
    assert "no_such_task" in results[0].reason and "code-task module" in results[1].reason
    assert "gone.py" in results[2].reason


def test_the_round_s_sandboxes_are_stopped_with_the_round(tmp_path) -> None:
    task = load_exam(SEED).code_tasks[0]
    with round_sandboxes(ExecSettings(bwrap=str(tmp_path / "no-bwrap"))) as sandboxes:
        result = sandboxes.run(task, "def kth_largest(nums, k):\n    return sorted(nums)[-k]\n")
        assert result.status == "sandbox_unavailable"  # the pool was made for the round, and said why
        assert len(sandboxes._pools) == 1
    assert not sandboxes._pools
