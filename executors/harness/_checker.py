"""The checker: judges one answer against the reference, in the warm worker, never running answer code.

It forks a candidate runner per answer and keeps one reference runner, sends both the same seeded
inputs (in alternating order), compares outputs, and reads each call's CPU time from the kernel.
"""

from __future__ import annotations

import math
import os
import random
import signal
import statistics
import time
from typing import Any

from . import _runner
from ._records import CheckRequest, CheckResult, Limits, TrialOutcome
from ._registry import TaskRegistry
from ._runner import Cost, Runner, RunnerGone
from ._values import ArrayMode, array_mode, decode, encode
from .api import Inputs, Task, Trial, Verdict

MIN_SIZES = 4
"""Sizes needed before a complexity exponent is fitted."""
SMALLEST_SIZE = 64
EMPTY_SIZE = 8
"""A near-empty call: what one call costs whatever the answer does (pipe, decode, snapshot)."""
SAMPLE_SECONDS = 0.005
"""Cheap sizes get more calls (up to 3 × timing_repeats) until their calls add up to this."""
_UNPREDICTABLE = random.SystemRandom()
"""Picks which timed calls are checked; seeded from the OS, so no answer can replay the choice."""


class _Wrong(Exception):
    """An answer's output during timing was wrong: the run stops and counts as failed."""


class _ReferenceGone(Exception):
    """The reference runner died while an answer ran (possible only where they share a uid: non-root)."""


class Checker:
    """Checks answers one at a time; the reference runner is kept warm between answers."""

    def __init__(
        self, *, tasks: TaskRegistry, device: str, sandboxed: bool, tmp_dir: str, runner_uid: int | None
    ):
        self.tasks = tasks
        """The exam's task module, loaded once; runners forked from here inherit it."""
        self.device, self.sandboxed, self.tmp_dir = device, sandboxed, tmp_dir
        self.runner_uid = runner_uid
        """Candidate runners run as this uid, the reference runner as the next one; None: as the checker."""
        self.helpers_seen = False
        self.reference: Runner | None = None
        self.answer_device = "cpu"
        """Where the answer being checked runs: the GPU for tensor tasks when there is one, else the CPU."""

    def _reference_runner(self) -> Runner:
        if self.reference is None:
            self.reference = _runner.spawn(
                "reference",
                tasks=self.tasks,
                code="",
                entrypoint="",
                mode="torch",
                device=self.device,
                limits=None,
                output_path=os.path.join(self.tmp_dir, "reference.out"),
                uid=None if self.runner_uid is None else self.runner_uid + 1,
            )
        return self.reference

    def check(self, request: CheckRequest) -> CheckResult:
        """Judge one answer; every outcome, hostile ones included, is a result, never an exception."""
        limits = request.limits
        task = self.tasks.get(request.task_id)
        self.answer_device = self.device if task.torch else "cpu"
        mode = array_mode(request.code)
        result = CheckResult(device=self.answer_device)
        self.helpers_seen = False
        output_path = os.path.join(self.tmp_dir, "answer.out")
        candidate = _runner.spawn(
            "candidate",
            tasks=self.tasks,
            code=request.code,
            entrypoint=request.entrypoint,
            aliases=request.aliases,
            task_id=task.id,
            mode=mode,
            device=self.answer_device,
            limits=limits,
            output_path=output_path,
            uid=self.runner_uid,
        )
        try:
            loaded = candidate.receive(limits.call_timeout_s)
            if loaded.get("undecided"):
                result.status, result.reason = "needs_review", f"not run: {loaded.get('error', '?')}"[:2000]
                return result
            if not loaded.get("ok"):
                result.status, result.reason = "error", f"the answer does not load: {loaded.get('error', '?')}"
                return result
            result.callable = str(loaded.get("callable", ""))
            if result.callable != request.entrypoint or loaded.get("direct") is not True:
                result.notes.append(f"called {loaded.get('how', result.callable)}")
            self._run(task, candidate, mode, limits, result)
        except RunnerGone as gone:
            result.status = "timeout" if gone.kind == "timeout" else "killed" if gone.kind == "killed" else "error"
            result.reason = gone.reason
        except _ReferenceGone as gone:
            result.status = "killed"
            result.reason = f"the reference process died while this answer ran ({gone})"
        except _Wrong as wrong:
            result.status, result.correct, result.reason = "failed", False, str(wrong)
        finally:
            candidate.close()
            result.output_tail = _tail(output_path, limits.output_cap_bytes)
            if self.helpers_seen:
                result.notes.append(
                    "the answer kept helper processes alive while timed: wall-clock time counted"
                )
            self.clean_up()
        return result

    def _run(self, task: Task, candidate: Runner, mode: ArrayMode, limits: Limits, result: CheckResult) -> None:
        rng = random.Random(limits.seed)
        trials = task.trials(rng, mode)
        failures = []
        for index, trial in enumerate(trials):
            verdict, mutated = self._trial(task, candidate, trial, index, limits)
            error = verdict.error
            if mutated:
                note = f"modified its input(s) {', '.join(mutated)} in place"
                if task.mutation_fails:
                    verdict = Verdict(False, verdict.max_abs_err, note)
                    error = note
                else:
                    result.notes.append(f"{trial.test_id}: {note}")
            result.tests.append(
                TrialOutcome(
                    test_id=trial.test_id,
                    passed=verdict.passed,
                    max_abs_err=verdict.max_abs_err,
                    error=error,
                    device=self.answer_device,
                )
            )
            if not verdict.passed:
                failures.append(f"{trial.test_id}: {error}")
        result.correct = not failures
        if failures:
            result.status = "failed"
            result.reason = f"wrong on {len(failures)} of {len(trials)} trials; first: {failures[0]}"
            return
        if task.timing is not None and task.timing.kind == "complexity":
            self._complexity(task, candidate, rng, limits, result)
        elif task.timing is not None and task.timing.kind == "speed":
            self._speed(task, candidate, rng, limits, result)

    def _call(
        self, runner: Runner, task: Task, request: tuple[dict[str, Any], list[bytes]], limits: Limits
    ) -> tuple[dict[str, Any], Any, Cost]:
        """One call: the reply header, the decoded output (None on error) and its cost."""
        header, blobs = request
        try:
            reply, reply_blobs, cost = runner.request(header, blobs, limits.call_timeout_s)
        except RunnerGone as gone:
            if runner.role == "reference":
                self.reference = None
                raise _ReferenceGone(gone.reason) from None
            raise
        out = None
        if reply.get("ok") is True:
            try:
                out = decode(reply.get("out"), reply_blobs)
            except (ValueError, TypeError) as error:
                reply = {"ok": False, "error": f"malformed output: {error}"}
        if runner.role == "reference" and reply.get("ok") is not True:
            raise RuntimeError(f"the reference failed on task {task.id}: {reply.get('error')}")
        return reply, out, cost

    def _trial(
        self, task: Task, candidate: Runner, trial: Trial, index: int, limits: Limits
    ) -> tuple[Verdict, list[str]]:
        """Run a trial on both sides, in both orders across trials (order effects show as failures)."""
        order = (candidate, self._reference_runner())
        request = _encode_call(task, trial.args)
        calls = {
            r.role: self._call(r, task, request, limits) for r in (order if index % 2 == 0 else order[::-1])
        }
        (reply, out, _), (_, ref_out, _) = calls["candidate"], calls["reference"]
        if reply.get("ok") is not True:
            return Verdict(False, error=str(reply.get("error", "no result"))), []
        try:
            verdict = task.judge(trial, out, ref_out)
        except Exception as error:  # noqa: BLE001 - an output shape the judge did not foresee is a wrong output
            verdict = Verdict(False, error=f"output could not be checked: {type(error).__name__}: {error}")
        mutated = reply.get("mutated")
        mutated = [m for m in mutated if isinstance(m, str)] if isinstance(mutated, list) else []
        return verdict, mutated

    def _timed(
        self,
        task: Task,
        candidate: Runner,
        args: Inputs,
        limits: Limits,
        *,
        reference_first: bool | None,
        n: int,
        verify: bool = True,
    ) -> tuple[float, float | None]:
        """Time one candidate call, checking its output; with `reference_first` set, time the reference too.

        Without the reference timed (complexity runs of the pure-Python tasks), the expected output is
        computed here, by the trusted reference, at no cost to the answer's measured time; `verify`
        False skips that check (the caller checks a random sample of calls).
        """
        request = _encode_call(task, args)
        if reference_first is None:
            reply, out, cost = self._call(candidate, task, request, limits)
            if reply.get("ok") is True and not verify:
                return self._seconds(reply, cost, candidate), None
            ref_reply, ref_out, ref_cost = (
                {},
                task.call(task.reference, task.prepare(args, "torch", "cpu")),
                None,
            )
        else:
            reference = self._reference_runner()
            order = (reference, candidate) if reference_first else (candidate, reference)
            timed = {r.role: self._call(r, task, request, limits) for r in order}
            (reply, out, cost), (ref_reply, ref_out, ref_cost) = timed["candidate"], timed["reference"]
        if reply.get("ok") is not True:
            raise _Wrong(f"failed during timing at n={n}: {reply.get('error')}")
        try:
            verdict = task.judge(Trial(f"time_n{n}", args), out, _plain_output(ref_out))
        except Exception as error:  # noqa: BLE001 - as in the trials: an unforeseen output is a wrong one
            verdict = Verdict(False, error=f"output could not be checked: {type(error).__name__}: {error}")
        if not verdict.passed:
            raise _Wrong(f"wrong output during timing at n={n}: {verdict.error}")
        ref_seconds = (
            None if ref_cost is None else self._seconds(ref_reply, ref_cost, self._reference_runner())
        )
        return self._seconds(reply, cost, candidate), ref_seconds

    def _seconds(self, reply: dict[str, Any], cost: Cost, runner: Runner) -> float:
        """Return the time a call counts for: CUDA events on GPU, else the runner's CPU time.

        CPU time, read from the kernel, is immune to other load on the machine. An answer that hands
        work to helper processes would hide it there, so with helpers alive the wall clock counts.
        """
        if self.answer_device == "cuda":
            return _device_seconds(reply, cost.wall)
        if math.isnan(cost.cpu) or self._has_helpers(runner):
            return cost.wall
        return cost.cpu

    def _has_helpers(self, runner: Runner) -> bool:
        if runner.role == "reference" or self.runner_uid is None:
            return False
        for pid in (p for p in os.listdir("/proc") if p.isdigit() and int(p) != runner.pid):
            try:
                with open(f"/proc/{pid}/status") as status:
                    uid = next(line.split()[1] for line in status if line.startswith("Uid:"))
            except (OSError, StopIteration):
                continue
            if int(uid) == self.runner_uid:
                self.helpers_seen = True
                return True
        return False

    def _complexity(
        self,
        task: Task,
        candidate: Runner,
        rng: random.Random,
        limits: Limits,
        result: CheckResult,
    ) -> None:
        """Fit log time on log n over at least four sizes.

        A first ascending pass (one call per size, a warm-up) picks the sizes: n doubles until the next
        call would exceed the budget, then smaller sizes fill in up to four. Every output of that pass
        is checked, and one kept call per size picked at random (an answer that returns junk once timed
        is caught: it cannot tell which call is checked). The kept calls are rounds
        over all sizes in rotating order (cheap sizes join more rounds), so a burst of load elsewhere hits
        every size alike; each size
        counts its median, less the median cost of a near-empty call (the fixed per-call overhead,
        capped at half the smallest median so an answer cannot game it).
        """
        assert task.timing is not None
        timing = task.timing
        budget, repeats = limits.call_budget_s, limits.timing_repeats
        deadline = time.monotonic() + limits.timing_budget_s

        def once(n: int, *, verify: bool = True) -> float:
            args = timing.inputs(rng, n)
            return self._timed(task, candidate, args, limits, reference_first=None, n=n, verify=verify)[0]

        first: dict[int, float] = {}
        for n in timing.sizes:
            if len(first) >= 2:
                last, before = first[n // 2], first.get(n // 4)
                growth = max(last / before, 1.0) if before else 2.0
                if last * growth > budget or time.monotonic() > deadline:
                    break
            first[n] = once(n)
            if first[n] > budget:
                break
        n = min(timing.sizes) // 2
        while len(first) < MIN_SIZES and n >= SMALLEST_SIZE:
            first[n] = once(n)
            n //= 2
        sizes = sorted(first)
        samples: dict[int, list[float]] = {n: [] for n in sizes}
        empty: list[float] = []
        quota = {
            n: min(3 * repeats, max(repeats, math.ceil(SAMPLE_SECONDS / max(first[n], 1e-6)))) for n in sizes
        }
        checked = {n: _UNPREDICTABLE.randrange(quota[n]) for n in sizes}
        for round_ in range(max(quota.values())):
            empty.append(once(EMPTY_SIZE))
            for n in sizes[round_ % len(sizes) :] + sizes[: round_ % len(sizes)]:
                if round_ < quota[n]:
                    samples[n].append(once(n, verify=checked[n] == round_))
        raw = {n: statistics.median(samples[n]) for n in sizes}
        overhead = min(statistics.median(empty), 0.5 * min(raw.values()))
        medians = {n: raw[n] - overhead for n in sizes}
        sizes = sorted(medians)
        exponent = fit_exponent(medians) if len(sizes) >= MIN_SIZES else None
        if exponent is None:
            result.notes.append(f"complexity not fitted: only {len(sizes)} sizes fit in the time budget")
        result.complexity_exponent = exponent
        for s in sizes:
            result.tests.append(
                TrialOutcome(
                    test_id=f"time_n{s}",
                    passed=True,
                    device=self.answer_device,
                    candidate_ms=raw[s] * 1e3,
                    complexity_exponent=exponent,
                )
            )

    def _speed(
        self,
        task: Task,
        candidate: Runner,
        rng: random.Random,
        limits: Limits,
        result: CheckResult,
    ) -> None:
        """Time candidate and reference on the same fresh inputs, back to back in alternating order.

        Each size starts with an untimed pair (first-touch allocations); its ratio is the median of the
        per-pair ratios, which a change of load between pairs does not move.
        """
        assert task.timing is not None
        timing = task.timing
        repeats = limits.speed_repeats
        ratio = None
        for n in timing.sizes_for(self.answer_device):
            self._timed(task, candidate, timing.inputs(rng, n), limits, reference_first=False, n=n)
            pairs = [
                self._timed(task, candidate, timing.inputs(rng, n), limits, reference_first=bool(i % 2), n=n)
                for i in range(repeats)
            ]
            cand_s = statistics.median(p[0] for p in pairs)
            ref_s = statistics.median(p[1] for p in pairs)
            ratio = statistics.median(p[0] / p[1] for p in pairs)
            result.tests.append(
                TrialOutcome(
                    test_id=f"speed_n{n}",
                    passed=True,
                    device=self.answer_device,
                    candidate_ms=cand_s * 1e3,
                    reference_ms=ref_s * 1e3,
                    speed_ratio=round(ratio, 3),
                )
            )
        result.speed_ratio = round(ratio, 3) if ratio is not None else None

    def clean_up(self) -> None:
        """Kill whatever an answer left running and wipe the sandbox's tmp before the next answer."""
        if not self.sandboxed:
            return
        keep = {1, os.getpid(), self.reference.pid if self.reference else 0}
        for _ in range(200):
            strays = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in keep]
            if not strays:
                break
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.005)
        for directory in (self.tmp_dir, "/dev/shm"):
            _wipe(directory, keep={"reference.out"})


def fit_exponent(seconds_by_size: dict[int, float]) -> float:
    """Least-squares slope of log time against log n: 1 for O(n), ≈1.1 for O(n log n) here, 2 for O(n^2)."""
    sizes = sorted(seconds_by_size)
    times = [max(seconds_by_size[n], 1e-9) for n in sizes]
    fit = statistics.linear_regression([math.log(n) for n in sizes], [math.log(t) for t in times])
    return round(fit.slope, 3)


def _encode_call(task: Task, args: Inputs) -> tuple[dict[str, Any], list[bytes]]:
    """Encode a call request once; it goes as is to both runners."""
    blobs: list[bytes] = []
    return {"op": "call", "task": task.id, "args": encode(args, blobs)}, blobs


def _plain_output(value: Any) -> Any:
    """Turn an in-process reference output into what would come off the wire (tuples as lists)."""
    return decode(encode(value, blobs := []), blobs)


def _device_seconds(reply: dict[str, Any], round_trip: float) -> float:
    """CUDA event time when the runner measured one, never more than the round trip the checker saw."""
    device_ms = reply.get("device_ms")
    if isinstance(device_ms, (int, float)) and 0 < device_ms / 1e3 <= round_trip:
        return device_ms / 1e3
    return round_trip


def _tail(path: str, cap: int) -> str:
    try:
        with open(path, "rb") as output:
            output.seek(0, os.SEEK_END)
            size = output.tell()
            output.seek(max(0, size - cap))
            return output.read(cap).decode("utf-8", "replace")
    except OSError:
        return ""


def _wipe(directory: str, *, keep: set[str]) -> None:
    for root, dirs, files in os.walk(directory, topdown=False):
        for name in files:
            if root != directory or name not in keep:
                try:
                    os.unlink(os.path.join(root, name))
                except OSError:
                    pass
        for name in dirs:
            try:
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass
