"""CUDA and the process model: the checker never initialises CUDA; each runner does, after its fork.

A process that forks after initialising CUDA leaves children that cannot use it ("CUDA error:
initialization error"), so the warm checker, which forks a runner per answer, must never touch the
driver, whatever a library it imports asks (torch._dynamo, for one, asks torch.cuda). In the checker
`forbid` makes torch.cuda report no device and makes its lazy initialisation raise; `allow` undoes it in
every forked child. Whether there is a GPU is asked by a throw-away forked child (`probe`).
"""

from __future__ import annotations

import json
import os
import select
import time
from dataclasses import dataclass
from typing import Any

_LOW_LEVEL = ("_cuda_init", "_cuda_getDeviceCount")
"""torch._C entry points that initialise the driver (cuInit) whatever the Python layer says."""
_saved: dict[tuple[str, str], Any] = {}


class CudaInChecker(RuntimeError):
    """Something in the checker's process tried to initialise CUDA."""


def _tripwire(name: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise CudaInChecker(
            f"torch.cuda.{name}() in the checker: CUDA may only be initialised in a runner, after its fork"
        )

    return refuse


def forbid(torch: Any) -> None:
    """Make this process unable to initialise CUDA: no device visible, initialisation raises."""
    if _saved:
        return
    replacements: dict[tuple[str, str], Any] = {
        ("cuda", "_lazy_init"): _tripwire("_lazy_init"),
        ("cuda", "init"): _tripwire("init"),
        ("cuda", "is_available"): lambda: False,
        ("cuda", "device_count"): lambda: 0,
    }
    replacements |= {("_C", name): _tripwire(name) for name in _LOW_LEVEL if hasattr(torch._C, name)}
    for (space, name), replacement in replacements.items():
        holder = getattr(torch, space)
        _saved[(space, name)] = getattr(holder, name)
        setattr(holder, name, replacement)


def allow(torch: Any) -> None:
    """Undo `forbid` (in a forked child, which may initialise CUDA for itself)."""
    for (space, name), original in _saved.items():
        setattr(getattr(torch, space), name, original)
    _saved.clear()


def probe(torch: Any, timeout: float = 60.0) -> dict[str, Any]:
    """Ask a forked child whether CUDA works and what the device is; the caller's process stays untouched."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            allow(torch)
            found: dict[str, Any] = {"device": "cpu"}
            if torch.cuda.is_available():
                properties = torch.cuda.get_device_properties(0)
                found = {"device": "cuda", "name": properties.name, "memory_bytes": properties.total_memory}
        except BaseException as error:  # noqa: BLE001 - a broken driver means no GPU, with the reason
            found = {"device": "cpu", "error": f"{type(error).__name__}: {error}"[:500]}
        os.write(write_end, json.dumps(found).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    deadline = time.monotonic() + timeout
    while select.select([read_end], [], [], max(deadline - time.monotonic(), 0))[0]:
        chunk = os.read(read_end, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"device": "cpu", "error": "the CUDA probe gave no answer"}


@dataclass
class RunnerCuda:
    """A runner's CUDA state: the L2 flush buffer, made after the fork in the runner itself."""

    torch: Any
    flush: Any
    memory_limit_bytes: int | None

    def timed(self, call: Any) -> tuple[Any, float]:
        """Run `call` with the L2 flushed first; return its output and its CUDA-event time in ms.

        The flush is queued before the start event on the same stream, so it is not timed; both syncs
        keep earlier and later work out of the interval.
        """
        cuda = self.torch.cuda
        self.flush.zero_()
        start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
        cuda.synchronize()
        start.record()
        out = call()
        end.record()
        cuda.synchronize()
        return out, start.elapsed_time(end)


L2_FLUSH_BYTES = 256 << 20
"""Written before each timed CUDA call so no call finds its inputs in L2 (KernelBench's flush); the
largest L2 today (H200's 60 MB) is far below it."""


def runner_setup(torch: Any, memory_limit_bytes: int | None) -> RunnerCuda:
    """Initialise CUDA in this (forked) runner, cap its device memory, allocate the flush buffer.

    `memory_limit_bytes` caps what torch's caching allocator hands this process (an answer past it gets
    torch.OutOfMemoryError); the reference runner passes None.
    """
    allow(torch)
    torch.cuda.init()
    if memory_limit_bytes is not None:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, memory_limit_bytes / total))
    flush = torch.empty(L2_FLUSH_BYTES // 4, dtype=torch.float32, device="cuda")
    return RunnerCuda(torch, flush, memory_limit_bytes)
