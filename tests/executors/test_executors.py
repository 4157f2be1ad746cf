"""The host side: settings, the bubblewrap command, results mapped onto the rubric's checks, refusals."""

from __future__ import annotations

import dataclasses

import pydantic
import pytest

from executors import ExecResult, ExecSettings, run_code_task, run_code_tasks
from executors._run import shared_pool, to_result
from executors.harness._records import CheckResult, TrialOutcome
from executors.sandbox import INSIDE_TASKS, bwrap_command, identity_files, sandbox_env

from .conftest import ROOT, SEED_MODULE, SOFTMAX_MODULE, TASKS, answer


def raw(**overrides):
    base = CheckResult(
        complexity_exponent=1.2,
        speed_ratio=4.0,
        correct=True,
        tests=[TrialOutcome(test_id="case0", passed=True, max_abs_err=0.0, device="cpu")],
    )
    return dataclasses.replace(base, **overrides)


def test_thresholds_come_from_the_code_task():
    strict = TASKS["topk"].model_copy(update={"max_complexity_exponent": 1.1})
    assert to_result(TASKS["topk"], raw(), 0.1).checks == {"correct": True, "complexity": True}
    assert to_result(strict, raw(), 0.1).checks == {"correct": True, "complexity": False}
    slow = to_result(TASKS["attention"], raw(speed_ratio=12.0), 0.1)
    assert slow.checks == {"correct": True, "speed": False} and "speed ratio 12.0 (max 10)" in slow.reason


def test_a_wrong_answer_earns_no_timing_check_however_fast():
    result = to_result(TASKS["topk"], raw(status="failed", correct=False, reason="wrong on 1 of 1"), 0.1)
    assert result.checks == {"correct": False, "complexity": False}
    assert result.reason == "wrong on 1 of 1"


def test_results_are_frozen():
    result = to_result(TASKS["topk"], raw(), 0.1)
    with pytest.raises(pydantic.ValidationError):
        result.status = "failed"


def test_an_empty_answer_is_no_code_and_runs_nothing():
    result = run_code_task(TASKS["topk"], "  \n", settings=ExecSettings(bwrap="/nonexistent/bwrap"))
    assert result.status == "no_code" and result.checks == {"correct": False, "complexity": False}


def test_a_task_without_checks_is_an_error_naming_the_known_tasks():
    task = TASKS["topk"].model_copy(update={"id": "sudoku"})
    result = run_code_task(task, "def kth_largest(n, k): return 0", settings=ExecSettings())
    assert result.status == "error" and "sudoku" in result.reason and "topk" in result.reason


def test_without_bubblewrap_answers_are_refused_not_run_unsandboxed():
    settings = ExecSettings(bwrap="/nonexistent/bwrap")
    result = run_code_task(TASKS["topk"], answer("topk_sort"), settings=settings)
    assert result.status == "sandbox_unavailable"
    assert (
        "apt-get install bubblewrap" in result.reason and "GRADEFLOW_EXEC_UNSAFE_NO_SANDBOX" in result.reason
    )
    assert not any(result.checks.values())


def test_the_sandbox_shares_nothing_it_does_not_need():
    command = " ".join(bwrap_command(ExecSettings(), uid=300_000, torch=False, task_module=SEED_MODULE))
    for flag in (
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-net",
        "--clearenv",
        "--ro-bind /usr /usr",
        "--tmpfs /tmp",
        "--proc /proc",
        "--dev /dev",
    ):
        assert flag in command
    assert f"--ro-bind {SEED_MODULE.resolve()} {INSIDE_TASKS}" in command  # the exam's one file, read-only
    shared = command.replace(f"{ROOT}/.venv", "").replace(f"{ROOT}/executors/harness", "")
    assert str(ROOT) not in shared.replace(str(SEED_MODULE.resolve()), "")
    assert set(sandbox_env()) >= {"PATH", "HOME", "PYTHONPATH"}
    assert not {"OPENAI_API_KEY", "GRADEFLOW_JUDGE_API_KEY"} & set(sandbox_env())


def test_the_unsafe_development_mode_runs_without_bubblewrap():
    settings = ExecSettings(unsafe_no_sandbox=True, bwrap="/nonexistent/bwrap", timing_budget_s=5)
    result = run_code_task(TASKS["topk"], answer("topk_sort"), settings=settings)
    assert result.status == "ok" and result.checks["correct"], result.reason


@pytest.mark.e2e
def test_a_batch_keeps_its_order_and_runs_each_answer_alone():
    jobs = [
        (TASKS["topk"], answer("topk_wrong_distinct")),
        (TASKS["topk"], answer("topk_heap")),
        (TASKS["lis"], answer("lis_length_only")),
        (TASKS["topk"], ""),
    ]
    results = run_code_tasks(jobs, settings=ExecSettings(workers=2, timing_budget_s=5))
    assert [r.status for r in results] == ["failed", "ok", "failed", "no_code"]
    assert all(isinstance(r, ExecResult) for r in results)


def test_run_code_task_reuses_one_warm_pool_per_settings():
    settings = ExecSettings(bwrap="/nonexistent/bwrap", seed=7)
    seed = {"task_module": SEED_MODULE, "torch": False}
    assert shared_pool(settings, **seed) is shared_pool(ExecSettings(bwrap="/nonexistent/bwrap", seed=7), **seed)
    assert shared_pool(settings, **seed) is not shared_pool(settings.model_copy(update={"seed": 8}), **seed)
    assert shared_pool(settings, **seed) is not shared_pool(settings, task_module=SOFTMAX_MODULE, torch=False)


def test_the_sandbox_names_its_users_itself_and_keeps_caches_in_its_tmp(tmp_path):
    passwd, group = identity_files(tmp_path, 300_000)
    command = " ".join(
        bwrap_command(ExecSettings(), uid=300_000, torch=True, task_module=SEED_MODULE, identity=(passwd, group))
    )
    assert f"--ro-bind {passwd} /etc/passwd --ro-bind {group} /etc/group" in command
    users = {line.split(":")[2]: line.split(":")[0] for line in passwd.read_text().splitlines()}
    assert users == {"0": "root", "300000": "gradeflow", "300001": "gradeflow-reference"}
    env = sandbox_env()
    assert env["USER"] == env["LOGNAME"] == "gradeflow"
    caches = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "XDG_CACHE_HOME", "CUDA_CACHE_PATH", "HOME")
    assert all(env[name].startswith("/tmp") for name in caches)
