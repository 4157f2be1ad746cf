"""Sandboxed code executors: run code answers against reference kernels and report checks.

`run_code_task` checks one answer; `run_code_tasks` / `ExecutorPool` check many on warm sandboxes.
Nothing here raises for what an answer does: hostile or broken code comes back as an `ExecResult`
with a status and a reason, and 0 for the checks it did not earn.
"""

from executors._models import Device, ExecResult, ExecStatus, TestOutcome
from executors._run import ExecutorPool, declared_checks, run_code_task, run_code_tasks
from executors._settings import ExecSettings
from executors.harness._tasks import TASKS as KNOWN_TASKS
from executors.sandbox import SandboxUnavailable

__all__ = [
    "KNOWN_TASKS",
    "Device",
    "ExecResult",
    "ExecSettings",
    "ExecStatus",
    "ExecutorPool",
    "SandboxUnavailable",
    "TestOutcome",
    "declared_checks",
    "run_code_task",
    "run_code_tasks",
]
