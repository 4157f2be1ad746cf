"""Running code answers: one at a time, or a batch over a pool of warm sandboxes.

A pool serves one exam's task module (`CodeTask.module`, resolved by `rubric_schema.load_exam`): its
sandboxes load that file once and check any of its tasks.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from executors._models import ExecResult, TestOutcome
from executors._settings import ExecSettings
from executors.harness._records import CheckRequest, CheckResult
from executors.harness._registry import TaskModuleError, TaskRegistry, load_tasks
from executors.sandbox import SandboxUnavailable, Worker, WorkerGone
from rubric_schema import CodeCheckName, CodeTask

TIMING_PREFIXES = ("time_", "speed_")
"""Test ids of timed rows; the others are correctness trials."""


def declared_checks(task: CodeTask) -> list[CodeCheckName]:
    """List the checks a task's thresholds make meaningful: correct always, the others when set."""
    checks: list[CodeCheckName] = ["correct"]
    if task.max_complexity_exponent is not None:
        checks.append("complexity")
    if task.max_speed_ratio is not None:
        checks.append("speed")
    return checks


def _failed(task: CodeTask, status: str, reason: str, **extra: Any) -> ExecResult:
    """Build a result in which every check is 0: the answer did not get as far as earning any."""
    return ExecResult(
        task_id=task.id,
        question_id=task.question_id,
        status=status,  # type: ignore[arg-type]
        checks=dict.fromkeys(declared_checks(task), False),
        reason=reason,
        **extra,
    )


def to_result(task: CodeTask, raw: CheckResult, elapsed_s: float) -> ExecResult:
    """Map the checker's result onto the task's checks, with thresholds from the rubric's CodeTask."""
    if raw.internal:
        return _failed(task, "error", raw.reason, elapsed_s=elapsed_s)
    correct = raw.correct
    exponent, ratio = raw.complexity_exponent, raw.speed_ratio
    checks: dict[CodeCheckName, bool] = {"correct": correct}
    trials = [t for t in raw.tests if not t.test_id.startswith(TIMING_PREFIXES)]
    words = [f"correct on {len(trials)}/{len(trials)} trials"] if correct else []
    words += [raw.reason] if raw.reason else []
    if task.max_complexity_exponent is not None:
        checks["complexity"] = correct and exponent is not None and exponent <= task.max_complexity_exponent
        if correct:
            words.append(
                f"complexity exponent {'not measured' if exponent is None else exponent} "
                f"(max {task.max_complexity_exponent:g})"
            )
    if task.max_speed_ratio is not None:
        checks["speed"] = correct and ratio is not None and ratio <= task.max_speed_ratio
        if correct:
            words.append(
                f"speed ratio {'not measured' if ratio is None else ratio} (max {task.max_speed_ratio:g})"
            )
    return ExecResult(
        task_id=task.id,
        question_id=task.question_id,
        status=raw.status,
        checks=checks,
        reason="; ".join(words),
        complexity_exponent=exponent,
        speed_ratio=ratio,
        device=raw.device,  # type: ignore[arg-type]
        callable=raw.callable,
        tests=[TestOutcome(**asdict(t)) for t in raw.tests],
        output_tail=raw.output_tail,
        notes=raw.notes,
        elapsed_s=elapsed_s,
    )


def _request(task: CodeTask, code: str, settings: ExecSettings) -> CheckRequest:
    return CheckRequest(
        task_id=task.id, entrypoint=task.entrypoint, aliases=tuple(task.aliases), code=code, limits=settings.limits()
    )


@lru_cache(maxsize=16)
def _registry_at(path: str, _mtime_ns: int) -> TaskRegistry:
    return load_tasks(path)


def task_registry(module: Path) -> TaskRegistry:
    """The tasks an exam's module declares, loaded on the host (again when the file changes)."""
    try:
        mtime = os.stat(module).st_mtime_ns
    except OSError as error:
        raise TaskModuleError(f"cannot read the code-task module {module}: {error.strerror}") from None
    return _registry_at(str(module), mtime)


def _precheck(task: CodeTask, code: str) -> ExecResult | None:
    """Answers that need no sandbox to decide: no code, or a task whose checks cannot be found."""
    if task.module is None:
        return _failed(
            task,
            "error",
            f"code task {task.id!r} has no code-task module: load its rubric with rubric_schema.load_exam, "
            "which resolves the exam's `code_tasks_module`",
        )
    try:
        task_registry(task.module).get(task.id)
    except TaskModuleError as error:
        return _failed(task, "error", str(error))
    except KeyError as error:
        return _failed(task, "error", f"no checks are defined for code task {task.id!r}: {error.args[0]}")
    if not code.strip():
        return _failed(task, "no_code", "the answer holds no code")
    return None


class ExecutorPool:
    """Warm sandboxes for one exam's task module, reused across answers: each answer still runs in its
    own freshly forked process.

    Use as a context manager; `run` is thread-safe, `map` runs a batch on all workers. `torch` None:
    as the module's tasks need.
    """

    def __init__(
        self,
        settings: ExecSettings,
        *,
        task_module: Path,
        torch: bool | None = None,
        workers: int | None = None,
    ):
        self.settings = settings
        self.task_module = Path(task_module).resolve()
        if torch is None:
            torch = task_registry(self.task_module).needs_torch
        size = workers or self.settings.sandboxes()
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._workers = [
            Worker(self.settings, slot=slot, torch=torch, task_module=self.task_module) for slot in range(size)
        ]
        for worker in self._workers:
            self._idle.put(worker)

    def __enter__(self) -> ExecutorPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        """Start every sandbox now, not with its first answer; raises SandboxUnavailable when one cannot."""
        with ThreadPoolExecutor(max_workers=len(self._workers)) as threads:
            list(threads.map(lambda worker: worker.ensure_started(), self._workers))

    def close(self) -> None:
        """Stop every sandbox."""
        for worker in self._workers:
            worker.close()

    def run(self, task: CodeTask, code: str) -> ExecResult:
        """Check one answer; never raises for anything the answer does."""
        early = _precheck(task, code)
        if early is not None:
            return early
        if Path(task.module).resolve() != self.task_module:  # type: ignore[arg-type]
            return _failed(task, "error", f"this pool checks the tasks of {self.task_module}, not of {task.module}")
        worker = self._idle.get()
        try:
            worker.ensure_started()
            started = time.perf_counter()
            raw = worker.check(_request(task, code, self.settings))
        except SandboxUnavailable as error:
            return _failed(task, "sandbox_unavailable", str(error))
        except WorkerGone as gone:
            return _failed(task, gone.kind, gone.reason, elapsed_s=time.perf_counter() - started)
        finally:
            self._idle.put(worker)
        return to_result(task, raw, time.perf_counter() - started)

    def map(self, jobs: Iterable[tuple[CodeTask, str]]) -> list[ExecResult]:
        """Check many answers on all workers; results in the order of `jobs`."""
        with ThreadPoolExecutor(max_workers=len(self._workers)) as threads:
            return list(threads.map(lambda job: self.run(*job), jobs))


_SHARED: dict[tuple[str, bool, str], ExecutorPool] = {}
_SHARED_LOCK = threading.Lock()


def _close_shared() -> None:
    for pool in _SHARED.values():
        pool.close()


def shared_pool(settings: ExecSettings, *, task_module: Path, torch: bool) -> ExecutorPool:
    """Return the process's warm pool for these settings and module, started on first use, stopped at exit."""
    key = (settings.model_dump_json(), torch, str(Path(task_module).resolve()))
    with _SHARED_LOCK:
        if not _SHARED:
            atexit.register(_close_shared)
        if key not in _SHARED:
            _SHARED[key] = ExecutorPool(settings, task_module=task_module, torch=torch)
            try:
                _SHARED[key].start()  # all workers at once; each run would otherwise wait for its own
            except SandboxUnavailable:
                pass  # every run then reports sandbox_unavailable, with the reason
        return _SHARED[key]


def run_code_task(task: CodeTask, code: str, *, settings: ExecSettings) -> ExecResult:
    """Run one code answer against the task's reference, thread-safe.

    The answer gets its own freshly forked runner in a warm sandbox this process keeps (one per core,
    started by the first call): calling this once per answer costs no sandbox or torch start-up after
    the first.
    """
    early = _precheck(task, code)
    if early is not None:
        return early
    assert task.module is not None  # _precheck said so
    torch = task_registry(task.module).get(task.id).torch
    return shared_pool(settings, task_module=task.module, torch=torch).run(task, code)


def run_code_tasks(jobs: Iterable[tuple[CodeTask, str]], *, settings: ExecSettings) -> list[ExecResult]:
    """Run a batch of answers (e.g. from one Prefect task) on `settings.sandboxes()` warm sandboxes per module."""
    jobs = list(jobs)
    results: dict[int, ExecResult] = {}
    by_module: dict[Path, list[int]] = {}
    for index, (task, code) in enumerate(jobs):
        early = _precheck(task, code)
        if early is not None:
            results[index] = early
        else:
            by_module.setdefault(Path(task.module).resolve(), []).append(index)  # type: ignore[arg-type]
    for module, indices in by_module.items():
        registry = task_registry(module)
        torch = any(registry.get(jobs[i][0].id).torch for i in indices)
        with ExecutorPool(settings, task_module=module, torch=torch) as pool:
            results.update(zip(indices, pool.map(jobs[i] for i in indices), strict=True))
    return [results[i] for i in range(len(jobs))]
