"""The round's warm sandboxes: opened by the flow, used by its batch tasks, stopped when the round ends."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from executors import (
    ExecResult,
    ExecSettings,
    ExecutorPool,
    SandboxUnavailable,
    TaskModuleError,
    run_code_task,
    task_registry,
)
from rubric_schema import CodeTask


class RoundSandboxes:
    """One ExecutorPool per code-task module and torch mode, started by the first answer that needs it.

    `run` is thread-safe: the batch tasks of a round on threads share the pools.
    """

    def __init__(self, settings: ExecSettings):
        self._settings = settings
        self._pools: dict[tuple[Path, bool], ExecutorPool] = {}
        self._lock = threading.Lock()

    def run(self, task: CodeTask, code: str) -> ExecResult:
        """Check one answer; a task the executors cannot find checks for is refused as they refuse it."""
        try:
            if task.module is None:
                raise TaskModuleError(task.id)
            torch = task_registry(task.module).get(task.id).torch
        except (TaskModuleError, KeyError):
            return run_code_task(task, code, settings=self._settings)  # its reason, and no sandbox started
        key = (Path(task.module).resolve(), torch)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = ExecutorPool(self._settings, task_module=key[0], torch=torch)
                with contextlib.suppress(SandboxUnavailable):
                    pool.start()  # every worker at once; when one cannot start, each run says why
        return pool.run(task, code)

    def close(self) -> None:
        """Stop every sandbox of the round."""
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


@contextlib.contextmanager
def round_sandboxes(settings: ExecSettings) -> Iterator[RoundSandboxes]:
    """The round's sandboxes for the block, on the executors' settings the flow was handed."""
    sandboxes = RoundSandboxes(settings)
    try:
        yield sandboxes
    finally:
        sandboxes.close()
