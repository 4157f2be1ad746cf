"""The warm worker, `python -m <harness> --tasks MODULE [--torch] [--sandboxed] [--runner-uid UID]`.

It loads the exam's task module and imports what the tasks need once, then forks a fresh runner per
answer, so each answer starts from the same clean state without paying for interpreter and torch
start-up. Requests in, results out, one frame each.
"""

from __future__ import annotations

import ctypes
import os
import random
import sys
import tempfile
import traceback

from . import _cuda, _wire
from ._checker import Checker
from ._records import CheckRequest, CheckResult
from ._registry import TaskRegistry, load_tasks
from ._runner import FRAME_LIMIT
from ._values import decode, encode

PR_SET_DUMPABLE = 4


def _not_dumpable() -> None:
    """Answers run under the same uid; a non-dumpable worker cannot be ptraced or have its fds opened."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _device() -> dict[str, object]:
    """CPU for pure-Python workers; with torch, what a forked probe found (this process never asks CUDA)."""
    if "torch" not in sys.modules:
        return {"device": "cpu"}
    return _cuda.probe(sys.modules["torch"])


def _warm_up(tasks: TaskRegistry) -> None:
    """Run each torch task's reference once on the CPU, so runners inherit torch's lazy set-up.

    Always the CPU: CUDA initialised here would be unusable in every runner forked after it.
    """
    for task in tasks.tasks.values():
        if task.torch:
            trial = task.trials(random.Random(0), "torch")[0]
            task.call(
                task.reference, task.prepare(decode(encode(trial.args, blobs := []), blobs), "torch", "cpu")
            )


def main(argv: list[str]) -> int:
    """Serve check requests on stdin/stdout until the host closes stdin."""
    _not_dumpable()
    channel_in, channel_out = os.dup(0), os.dup(1)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # stray prints from imports go to stderr, never into the result channel
    tasks = load_tasks(argv[argv.index("--tasks") + 1])
    if "--torch" in argv:
        import numpy  # noqa: F401 - warm import for the runners
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        _cuda.forbid(torch)
        _warm_up(tasks)
    sandboxed = "--sandboxed" in argv
    tmp_dir = "/tmp" if sandboxed else tempfile.mkdtemp(prefix="gradeflow-exec-")
    runner_uid = int(argv[argv.index("--runner-uid") + 1]) if "--runner-uid" in argv else None
    found = _device()
    checker = Checker(
        tasks=tasks, device=str(found["device"]), sandboxed=sandboxed, tmp_dir=tmp_dir, runner_uid=runner_uid
    )
    checker.clean_up()  # what imports and the warm-up left in /tmp is not the first answer's to see
    torch_version = sys.modules["torch"].__version__ if "torch" in sys.modules else None
    _wire.write_fd(channel_out, {"ready": True, **found, "torch": torch_version, "pid": os.getpid()})
    while True:
        try:
            request, _ = _wire.read_fd(channel_in, limit=FRAME_LIMIT)
        except _wire.WireError:
            return 0
        try:
            reply = checker.check(CheckRequest.from_wire(request))
        except Exception as error:  # noqa: BLE001 - a checker bug is reported as such, the worker goes on
            traceback.print_exc()
            reply = CheckResult(
                status="error", reason=f"internal checker error: {type(error).__name__}: {error}", internal=True
            )
        _wire.write_fd(channel_out, reply.to_wire())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
