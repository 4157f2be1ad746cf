"""Sandboxed code executors: run code answers against reference kernels and report checks.

`run_code_task` checks one answer; `run_code_tasks` / `ExecutorPool` check many on warm sandboxes.
Nothing here raises for what an answer does: hostile or broken code comes back as an `ExecResult`
with a status and a reason, and 0 for the checks it did not earn.
"""

from executors._models import Device, ExecResult, ExecStatus, TestOutcome
from executors._run import ExecutorPool, declared_checks, run_code_task, run_code_tasks, task_registry
from executors._settings import ExecSettings
from executors.harness._registry import TaskModuleError, TaskRegistry
from executors.sandbox import SandboxUnavailable

__all__ = [
    "Device",
    "ExecResult",
    "ExecSettings",
    "ExecStatus",
    "ExecutorPool",
    "SandboxUnavailable",
    "TaskModuleError",
    "TaskRegistry",
    "TestOutcome",
    "declared_checks",
    "run_code_task",
    "run_code_tasks",
    "task_registry",
]
