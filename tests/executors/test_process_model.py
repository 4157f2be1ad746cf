"""The process model on a GPU, held as a contract on the CPU: the checker never initialises CUDA, runners do.

A checker that initialised CUDA before forking left every runner unable to use it (issue 11: 35 of 36
answers failed on an H200). Here the checker's torch.cuda is tripwired exactly as in production, full
checks run under it, and the CUDA-only code (timing, memory caps, limits) runs against a recording
stand-in for torch.cuda where no GPU is present.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from executors import ExecSettings
from executors.harness import _cuda, _limits
from executors.harness._records import CheckRequest
from executors.harness._runner import _call

from .conftest import SEED, SEED_MODULE, TASKS, answer

RUNNER_SEES_CUDA = '''
import torch


def kth_largest(nums, k):
    """Right only when this runner may initialise CUDA itself: the checker's tripwire is not inherited."""
    try:
        torch.cuda._lazy_init()
    except Exception as error:  # a CPU build of torch says it has no CUDA; the tripwire would say more
        if "in the checker" in str(error):
            raise
    return sorted(nums)[-k]
'''


@pytest.fixture
def forbidden():
    """Make this process what the checker is: torch.cuda tripwired (undone after the test)."""
    _cuda.forbid(torch)
    try:
        yield
    finally:
        _cuda.allow(torch)


def test_the_checker_cannot_initialise_cuda_and_sees_no_device(forbidden):
    assert torch.cuda.is_available() is False and torch.cuda.device_count() == 0
    for touch in (torch.cuda._lazy_init, torch.cuda.init, lambda: torch.zeros(1, device="cuda")):
        with pytest.raises(_cuda.CudaInChecker, match="only be initialised in a runner"):
            touch()


def test_allow_restores_torch_cuda_as_it_was():
    originals = (torch.cuda._lazy_init, torch.cuda.is_available, torch.cuda.device_count)
    _cuda.forbid(torch)
    assert torch.cuda._lazy_init is not originals[0]
    _cuda.allow(torch)
    assert (torch.cuda._lazy_init, torch.cuda.is_available, torch.cuda.device_count) == originals


def test_the_device_is_probed_in_a_child_and_the_checker_stays_tripwired(forbidden):
    found = _cuda.probe(torch)
    assert found["device"] == ("cuda" if _cuda._saved[("cuda", "is_available")]() else "cpu")
    with pytest.raises(_cuda.CudaInChecker):
        torch.cuda._lazy_init()


CHECKER = """
import json, sys, tempfile
import torch
from executors.harness import _cuda
from executors.harness.__main__ import _warm_up
from executors.harness._checker import Checker
from executors.harness._records import CheckRequest
from executors.harness._registry import load_tasks

torch.set_num_threads(1)
_cuda.forbid(torch)  # what the warm checker does before its warm-up
job = json.loads(sys.stdin.read())
tasks = load_tasks(job["module"])
_warm_up(tasks)
checker = Checker(tasks=tasks, device="cpu", sandboxed=False, tmp_dir=tempfile.mkdtemp(), runner_uid=None)
for request in job["requests"]:
    result = checker.check(CheckRequest.from_wire(request))
    print(json.dumps([request["task_id"], result.status, result.correct, result.reason]))
try:
    torch.cuda._lazy_init()
except _cuda.CudaInChecker:
    print(json.dumps("still tripwired"))
"""


@pytest.mark.e2e
def test_full_checks_pass_in_a_checker_whose_cuda_initialisation_raises():
    """The contract: tensor tasks and the training loop, checked end to end by a tripwired checker process."""
    limits = ExecSettings(timing_budget_s=3, speed_repeats=3).limits()
    cases = [
        ("attention", answer("attention_torch")),
        ("train_loop", answer("train_correct")),
        ("batchnorm_backward", answer("batchnorm_backward_torch")),
        ("topk", RUNNER_SEES_CUDA),
    ]
    requests = [
        CheckRequest(task_id=t, entrypoint=TASKS[t].entrypoint, code=code, limits=limits).to_wire()
        for t, code in cases
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", CHECKER],
        input=json.dumps({"module": str(SEED_MODULE), "requests": requests}),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[-1] == "still tripwired", done.stderr[-2000:]
    assert [line[:3] for line in lines[:-1]] == [[t, "ok", True] for t, _ in cases], lines


class FakeEvent:
    def __init__(self, log: list[str], clock: list[float], enable_timing: bool):
        self.log, self.clock, self.at = log, clock, None

    def record(self):
        self.log.append("record")
        self.at = self.clock[0]

    def elapsed_time(self, end: FakeEvent) -> float:
        return (end.at - self.at) * 1e3


def fake_torch(total_memory: int = 141 << 30) -> tuple[SimpleNamespace, list[str], list[float]]:
    """Stand in for torch where the CUDA paths use it, recording each call (the unit boundary; no GPU needed)."""
    log: list[str] = []
    clock = [0.0]

    class Flush:
        def zero_(self):
            log.append("flush")

    cuda = SimpleNamespace(
        init=lambda: log.append("init"),
        get_device_properties=lambda index: SimpleNamespace(total_memory=total_memory),
        set_per_process_memory_fraction=lambda fraction: log.append(f"fraction {fraction:.4f}"),
        synchronize=lambda: log.append("sync"),
        Event=lambda enable_timing: FakeEvent(log, clock, enable_timing),
    )

    def empty(count, dtype, device):
        log.append(f"empty {count * 4 >> 20} MiB on {device}")
        return Flush()

    return SimpleNamespace(cuda=cuda, empty=empty, float32="float32"), log, clock


def test_a_gpu_runner_initialises_cuda_then_caps_its_memory_then_allocates_the_flush():
    fake, log, _ = fake_torch()
    state = _cuda.runner_setup(fake, 16 << 30)
    assert log == ["init", f"fraction {16 / 141:.4f}", "empty 256 MiB on cuda"]
    assert state.memory_limit_bytes == 16 << 30
    log.clear()
    _cuda.runner_setup(fake, None)  # the reference runner: no cap
    assert not any(line.startswith("fraction") for line in log)


def test_a_timed_gpu_call_flushes_l2_outside_the_events_and_reports_event_time():
    fake, log, clock = fake_torch()
    state = _cuda.RunnerCuda(fake, fake.empty(1, "float32", "cuda"), None)
    log.clear()

    def kernel():
        log.append("call")
        clock[0] += 0.004
        return "out"

    out, ms = state.timed(kernel)
    assert (out, ms) == ("out", pytest.approx(4.0))
    assert log == ["flush", "sync", "record", "call", "record", "sync"]


def test_gpu_runners_bound_data_not_address_space():
    assert _limits.memory_limit("cuda") == (resource.RLIMIT_DATA, "VmData")
    assert _limits.memory_limit("cpu") == (resource.RLIMIT_AS, "VmSize")


def test_the_data_limit_stops_a_large_host_allocation_in_a_gpu_runner():
    """What a GPU runner gets instead of RLIMIT_AS, applied for real in a forked child."""
    limits = ExecSettings(memory_mb=256).limits()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports and exits
        outcome = b"?"
        try:
            _limits.apply(limits, "cuda")
            unlimited_as = resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY
            bytearray(128 << 20)  # within the limit
            try:
                bytearray(1 << 30)  # past 256 MiB (and the stack's 256 MiB headroom) over its data
                outcome = b"allocated"
            except MemoryError:
                outcome = b"stopped" if unlimited_as else b"as-limited"
        finally:
            os.write(write, outcome)
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 64) == b"stopped"


def test_an_answer_past_its_gpu_memory_cap_is_stopped_with_a_reason_that_says_so():
    """At the per-process fraction torch raises OutOfMemoryError; the runner names the cap in the error."""

    class OutOfMemoryError(RuntimeError):
        pass

    class Capped(_cuda.RunnerCuda):
        def timed(self, call):
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 32.00 GiB")

    task = SEED.get("relu_backward")
    trial = task.trials(random.Random(0), "torch")[0]
    reply, blobs = _call(task, lambda g, x: g, trial.args, "torch", "cpu", Capped(torch, None, 16 << 30))
    assert reply["ok"] is False and blobs == []
    assert reply["error"].startswith("stopped at the GPU memory limit of 16384 MiB per answer: OutOfMemoryError")
