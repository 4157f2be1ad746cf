"""Runners: forked processes that load one answer (or the references) and call it on request.

A runner only ever returns what the called code returned; the checker, in another process, judges it
and reads each call's CPU time from the kernel. So an answer that prints, forges reply frames or patches
anything in its process changes only its own outputs, which are then checked like any others.
"""

from __future__ import annotations

import fcntl
import math
import os
import signal
import sys
import time
import traceback
import types
from dataclasses import dataclass
from typing import Any, Literal

from . import _cuda, _limits, _wire
from ._entry import Resolved, Undecided, resolve
from ._records import Limits
from ._registry import TaskRegistry
from ._values import ArrayMode, decode, encode
from .api import Inputs, Task

Role = Literal["candidate", "reference"]
FRAME_LIMIT = 64 << 20
"""Largest frame a runner may send: outputs here are at most a few MiB (attention at n = 512: 1 MiB)."""
_IN, _OUT = 3, 4


_CPUCLOCK_SCHED = 2
"""clockid of another process's CPU clock: ((~pid) << 3) | CPUCLOCK_SCHED (Linux's clock_getcpuclockid)."""


@dataclass(frozen=True)
class Cost:
    """What one call cost, as the checker measured it."""

    wall: float
    cpu: float


class RunnerGone(Exception):
    """The runner ended or stopped answering; `kind` is 'timeout', 'killed' or 'exited'."""

    def __init__(self, kind: str, reason: str):
        self.kind, self.reason = kind, reason
        super().__init__(reason)


@dataclass
class Runner:
    """The checker's handle on a runner process."""

    pid: int
    role: Role
    to_runner: int
    from_runner: int
    output_path: str

    def cpu_seconds(self) -> float:
        """Read the runner's CPU time (all its threads) from the kernel: the answer cannot forge it."""
        try:
            return time.clock_gettime(((~self.pid) << 3) | _CPUCLOCK_SCHED)
        except OSError:
            return math.nan

    def request(
        self, header: dict[str, Any], blobs: list[bytes], timeout: float
    ) -> tuple[dict[str, Any], list[bytes], Cost]:
        """Send one request; return the reply and what it cost (wall and CPU seconds, send to full reply)."""
        deadline = time.monotonic() + timeout
        started, cpu_before = time.perf_counter(), self.cpu_seconds()
        try:
            _wire.write_fd(self.to_runner, header, blobs, deadline=deadline)
            reply, reply_blobs = _wire.read_fd(self.from_runner, limit=FRAME_LIMIT, deadline=deadline)
            cost = Cost(time.perf_counter() - started, self.cpu_seconds() - cpu_before)
        except _wire.Deadline:
            self.kill()
            raise RunnerGone("timeout", f"no reply within {timeout:g} s (wall clock)") from None
        except (_wire.WireError, OSError) as error:
            raise RunnerGone(*self._ended(str(error))) from None
        return reply, reply_blobs, cost

    def receive(self, timeout: float) -> dict[str, Any]:
        """Read one unsolicited frame (the load report)."""
        try:
            reply, _ = _wire.read_fd(self.from_runner, limit=FRAME_LIMIT, deadline=time.monotonic() + timeout)
        except _wire.Deadline:
            self.kill()
            raise RunnerGone("timeout", f"loading took longer than {timeout:g} s (wall clock)") from None
        except (_wire.WireError, OSError) as error:
            raise RunnerGone(*self._ended(str(error))) from None
        return reply

    def _ended(self, detail: str) -> tuple[str, str]:
        """Why the runner went away, from its exit status."""
        self.kill()
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return "killed", f"the process went away ({detail})"
        self.pid = 0
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            return "killed", _SIGNAL_REASONS.get(number, f"killed by signal {signal.Signals(number).name}")
        code = os.WEXITSTATUS(status)
        return "exited", f"the answer ended the process (exit code {code}) instead of returning"

    def kill(self) -> None:
        """Kill the runner's whole process group; safe to call twice."""
        if self.pid:
            for target in (
                lambda: os.killpg(self.pid, signal.SIGKILL),
                lambda: os.kill(self.pid, signal.SIGKILL),
            ):
                try:
                    target()
                except (ProcessLookupError, PermissionError):
                    pass

    def close(self) -> None:
        """Kill, reap and close the pipes."""
        self.kill()
        if self.pid:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0
        for fd in (self.to_runner, self.from_runner):
            try:
                os.close(fd)
            except OSError:
                pass


_SIGNAL_REASONS = {
    signal.SIGXCPU: "killed: CPU time limit reached",
    signal.SIGXFSZ: "killed: wrote past the output/file size limit",
    signal.SIGSEGV: "crashed (SIGSEGV): stack overflow from deep recursion, or memory corruption",
    signal.SIGKILL: "killed (SIGKILL): CPU or memory limit, or killed from inside the sandbox",
    signal.SIGABRT: "aborted (SIGABRT)",
}


def spawn(
    role: Role,
    *,
    tasks: TaskRegistry,
    code: str,
    entrypoint: str,
    aliases: tuple[str, ...] = (),
    mode: ArrayMode,
    device: str,
    limits: Limits | None,
    output_path: str,
    uid: int | None,
    task_id: str = "",
) -> Runner:
    """Fork a runner. The child keeps only its two pipe ends and an output file on fds 0-4.

    `limits` bind a candidate; the reference runner (None) is trusted code and runs without them.

    With `uid`, the runner drops to that uid: an answer then cannot signal the checker or the reference
    runner (each has its own uid), so nothing it leaves behind can disturb the next answer. On a GPU the
    runner initialises CUDA itself, after the fork and before its limits (the checker never has).
    """
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 0
        try:
            cuda = _become_runner(to_child_r, from_child_w, output_path, role, limits, uid, device)
            _serve(role, tasks, code, entrypoint, aliases, task_id, mode, device, cuda)
        except BaseException:  # noqa: BLE001 - the child must never return into the checker's loop
            traceback.print_exc()
            status = 70
        finally:
            os._exit(status)
    os.close(to_child_r)
    os.close(from_child_w)
    return Runner(pid, role, to_child_w, from_child_r, output_path)


def _drop_to(uid: int) -> None:
    """Become `uid` (and its gid), which clears every capability; the checker can still kill it."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _become_runner(
    read_fd: int,
    write_fd: int,
    output_path: str,
    role: Role,
    limits: Limits | None,
    uid: int | None,
    device: str,
) -> _cuda.RunnerCuda | None:
    os.setpgid(0, 0)
    high_read, high_write = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 16), fcntl.fcntl(write_fd, fcntl.F_DUPFD, 16)
    null = os.open("/dev/null", os.O_RDONLY)
    output = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.dup2(high_read, _IN)
    os.dup2(high_write, _OUT)
    os.closerange(_OUT + 1, 1 << 16)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    torch = sys.modules.get("torch")
    if torch is not None:
        _cuda.allow(torch)
    cuda = None
    if device == "cuda":
        gpu_limit = limits.gpu_memory_bytes if limits is not None else None
        cuda = _cuda.runner_setup(torch, gpu_limit)
    if limits is not None:
        _limits.apply(limits, device)
    if uid is not None:
        _drop_to(uid)
    return cuda


def describe(error: BaseException) -> str:
    """One line: the exception and where in the answer it was raised."""
    where = [
        f"line {frame.lineno}"
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename == "answer.py"
    ]
    text = f"{type(error).__name__}: {error}"[:400]
    if isinstance(error, SystemExit):
        text = f"the answer called exit({error.code!r})"
    return text + (f" (answer.py {where[-1]})" if where else "")


def _load(code: str, entrypoint: str, aliases: tuple[str, ...], task: Task, device: str) -> Resolved:
    """Run the answer's code as module `answer` and find the callable the task calls."""
    module = types.ModuleType("answer")
    module.__file__ = "answer.py"
    sys.modules["answer"] = module
    exec(compile(code, "answer.py", "exec"), module.__dict__)  # noqa: S102 - this is the sandboxed runner's job
    return resolve(module.__dict__, "answer", entrypoint, aliases, task.contract, device)


def _serve(
    role: Role,
    tasks: TaskRegistry,
    code: str,
    entrypoint: str,
    aliases: tuple[str, ...],
    task_id: str,
    mode: ArrayMode,
    device: str,
    cuda: _cuda.RunnerCuda | None,
) -> None:
    entry: Any = None
    if role == "candidate":
        try:
            resolved = _load(code, entrypoint, aliases, tasks.get(task_id), device)
        except Undecided as undecided:
            _wire.write_fd(
                _OUT, {"ok": False, "undecided": True, "error": str(undecided), "candidates": undecided.candidates}
            )
            return
        except BaseException as error:  # noqa: BLE001 - any failure to load is the answer's, reported
            _wire.write_fd(_OUT, {"ok": False, "error": describe(error)})
            return
        entry = resolved.call
        _wire.write_fd(
            _OUT,
            {"ok": True, "callable": resolved.name, "how": resolved.describe(), "direct": resolved.plan.direct},
        )
    while True:
        header, blobs = _wire.read_fd(_IN, limit=FRAME_LIMIT)
        if header.get("op") != "call":
            return
        task = tasks.get(header["task"])
        fn = entry if role == "candidate" else task.reference
        reply, out_blobs = _call(task, fn, decode(header["args"], blobs), mode, device, cuda)
        _wire.write_fd(_OUT, reply, out_blobs)


def _snapshot(value: Any) -> Any:
    return value.clone() if hasattr(value, "clone") else value.copy()


def _same(before: Any, after: Any) -> bool:
    if hasattr(before, "clone"):
        import torch

        return before.shape == after.shape and bool(torch.equal(before, after))
    if hasattr(before, "shape"):
        import numpy

        return bool(numpy.array_equal(before, after))
    return before == after


def _call(
    task: Task, fn: Any, args: Inputs, mode: ArrayMode, device: str, cuda: _cuda.RunnerCuda | None
) -> tuple[dict[str, Any], list[bytes]]:
    inputs = task.prepare(args, mode, device)
    before = {name: _snapshot(inputs[name]) for name in task.guarded}
    device_ms = None
    try:
        if cuda is not None and task.torch:
            out, device_ms = cuda.timed(lambda: task.call(fn, inputs))
        else:
            out = task.call(fn, inputs)
        blobs: list[bytes] = []
        wire_out = encode(out, blobs)
    except BaseException as error:  # noqa: BLE001 - the answer's exception is its result
        text = describe(error)
        if type(error).__name__ == "OutOfMemoryError" and cuda is not None and cuda.memory_limit_bytes:
            text = f"stopped at the GPU memory limit of {cuda.memory_limit_bytes >> 20} MiB per answer: {text}"
        return {"ok": False, "error": text}, []
    mutated = [name for name in task.guarded if not _same(before[name], inputs[name])]
    return {"ok": True, "out": wire_out, "mutated": mutated, "device_ms": device_ms}, blobs
