"""Running code answers: one at a time, or a batch over a pool of warm sandboxes."""

from __future__ import annotations

import atexit
import queue
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from executors._models import ExecResult, TestOutcome
from executors._settings import ExecSettings
from executors.harness._tasks import TASKS
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


def to_result(task: CodeTask, raw: dict[str, Any], elapsed_s: float) -> ExecResult:
    """Map the checker's raw result onto the task's checks, with thresholds from the rubric's CodeTask."""
    if raw.get("internal"):
        return _failed(task, "error", raw["reason"], elapsed_s=elapsed_s)
    correct = bool(raw["correct"])
    exponent, ratio = raw.get("complexity_exponent"), raw.get("speed_ratio")
    checks: dict[CodeCheckName, bool] = {"correct": correct}
    trials = [t for t in raw["tests"] if not t["test_id"].startswith(TIMING_PREFIXES)]
    words = [f"correct on {len(trials)}/{len(trials)} trials"] if correct else []
    words += [raw["reason"]] if raw["reason"] else []
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
    status = raw["status"]
    return ExecResult(
        task_id=task.id,
        question_id=task.question_id,
        status=status,
        checks=checks,
        reason="; ".join(words),
        complexity_exponent=exponent,
        speed_ratio=ratio,
        device=raw.get("device", "cpu"),
        callable=raw.get("callable", ""),
        tests=[TestOutcome(**t) for t in raw["tests"]],
        output_tail=raw.get("output_tail", ""),
        notes=raw.get("notes", []),
        elapsed_s=elapsed_s,
    )


def _request(task: CodeTask, code: str, settings: ExecSettings) -> dict[str, Any]:
    return {
        "op": "check",
        "code": code,
        "limits": settings.limits(),
        "task": {"id": task.id, "entrypoint": task.entrypoint, "aliases": list(task.aliases)},
    }


def _precheck(task: CodeTask, code: str) -> ExecResult | None:
    """Answers that need no sandbox to decide: no code, or a task the harness has no checks for."""
    if task.id not in TASKS:
        return _failed(
            task,
            "error",
            f"no checks are defined for code task {task.id!r} (known: {', '.join(sorted(TASKS))})",
        )
    if not code.strip():
        return _failed(task, "no_code", "the answer holds no code")
    return None


class ExecutorPool:
    """Warm sandboxes, reused across answers: each answer still runs in its own freshly forked process.

    Use as a context manager; `run` is thread-safe, `map` runs a batch on all workers.
    """

    def __init__(
        self, settings: ExecSettings | None = None, *, torch: bool = True, workers: int | None = None
    ):
        self.settings = settings or ExecSettings()
        size = workers or self.settings.workers
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._workers = [Worker(self.settings, slot=slot, torch=torch) for slot in range(size)]
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


_SHARED: dict[tuple[str, bool], ExecutorPool] = {}
_SHARED_LOCK = threading.Lock()


def _close_shared() -> None:
    for pool in _SHARED.values():
        pool.close()


def shared_pool(settings: ExecSettings, *, torch: bool) -> ExecutorPool:
    """Return the process's warm pool for these settings, started on first use and stopped at exit."""
    key = (settings.model_dump_json(), torch)
    with _SHARED_LOCK:
        if not _SHARED:
            atexit.register(_close_shared)
        if key not in _SHARED:
            _SHARED[key] = ExecutorPool(settings, torch=torch)
            try:
                _SHARED[key].start()  # all workers at once; each run would otherwise wait for its own
            except SandboxUnavailable:
                pass  # every run then reports sandbox_unavailable, with the reason
        return _SHARED[key]


def run_code_task(task: CodeTask, code: str, *, settings: ExecSettings | None = None) -> ExecResult:
    """Run one code answer against the task's reference, thread-safe.

    The answer gets its own freshly forked runner in a warm sandbox this process keeps (one per core,
    started by the first call): calling this once per answer costs no sandbox or torch start-up after
    the first.
    """
    early = _precheck(task, code)
    if early is not None:
        return early
    return shared_pool(settings or ExecSettings(), torch=TASKS[task.id].torch).run(task, code)


def run_code_tasks(
    jobs: Iterable[tuple[CodeTask, str]], *, settings: ExecSettings | None = None
) -> list[ExecResult]:
    """Run a batch of answers (e.g. from one Prefect task) on `settings.workers` warm sandboxes."""
    jobs = list(jobs)
    needs_torch = any(TASKS[t.id].torch for t, _ in jobs if t.id in TASKS)
    with ExecutorPool(settings, torch=needs_torch) as pool:
        return pool.map(jobs)
