"""The code-task API: what an exam's task module uses to declare its tasks (docs/CODE_TASKS.md).

An exam keeps its code tasks in one Python file next to its rubric; the harness loads it inside the
sandbox, where this module is importable as `gradeflow_task_api` (and on the host as
`executors.harness.api`). The file defines `TASKS`, a list of `Task`s built with keywords.

Everything here runs in the checker or a runner, never in the answer's process.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ._entry import Contract, Param
from ._values import ArrayMode, to_mode

__all__ = [
    "TOLERANCE",
    "ArrayMode",
    "Contract",
    "Param",
    "Task",
    "Timing",
    "Trial",
    "Verdict",
    "call_by_contract",
    "normal",
    "plain_prepare",
    "tensor_judge",
    "tensor_prepare",
    "to_mode",
]

API_NAME = "gradeflow_task_api"
"""The import name an exam's task module uses for this API, in the sandbox and on the host alike."""
TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 1e-2}
"""rtol and atol per dtype of the inputs an answer gets."""

Inputs = dict[str, Any]
"""Named arguments of one call: wire values (numbers, lists, float32 numpy arrays) or prepared objects."""


@dataclass(frozen=True)
class Trial:
    """One call: a test id, wire arguments, and the dtype that sets the tolerance."""

    test_id: str
    args: Inputs
    dtype: str = "float32"


@dataclass(frozen=True)
class Verdict:
    """How one output compares with the reference's."""

    passed: bool
    max_abs_err: float | None = None
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class Timing:
    """How an answer is timed once its trials pass.

    complexity: the answer alone, at growing sizes, and log time fitted on log n (the rubric's
    `max_complexity_exponent`); speed: answer and reference back to back on the same inputs (the rubric's
    `max_speed_ratio`). `inputs` draws fresh wire arguments for size n on every call, so an answer cannot
    memoise its way to a fast time.
    """

    kind: Literal["complexity", "speed"]
    sizes: tuple[int, ...]
    inputs: Callable[[random.Random, int], Inputs]
    gpu_sizes: tuple[int, ...] = ()
    """Sizes timed on a GPU, where the CPU's sizes take microseconds and launch overhead is all one times."""

    def __post_init__(self) -> None:
        if not self.sizes or any(n < 1 for n in (*self.sizes, *self.gpu_sizes)):
            raise ValueError("timing needs at least one size, every size >= 1")

    def sizes_for(self, device: str) -> tuple[int, ...]:
        """The sizes timed on this device."""
        return self.gpu_sizes if device == "cuda" and self.gpu_sizes else self.sizes


def call_by_contract(contract: Contract) -> Callable[[Any, Inputs], Any]:
    """Call as the contract says: required parameters by position in its order, optional ones by keyword
    when the inputs hold them (the default `Task.invoke`).
    """
    required = [p.name for p in contract.params if not p.optional]
    optional = [p.name for p in contract.params if p.optional]

    def invoke(fn: Any, inputs: Inputs) -> Any:
        return fn(*(inputs[name] for name in required), **{n: inputs[n] for n in optional if n in inputs})

    return invoke


def plain_prepare(args: Inputs, _mode: ArrayMode, _device: str) -> Inputs:
    """Hand wire arguments to the answer as they are (pure-Python tasks)."""
    return dict(args)


def tensor_prepare(args: Inputs, mode: ArrayMode, device: str) -> Inputs:
    """Turn every array into the answer's kind (torch on `device`, or numpy) in the trial's `dtype` key."""
    dtype = args.get("dtype", "float32")
    return {
        k: to_mode(v, mode, dtype, device) if hasattr(v, "shape") else v for k, v in args.items() if k != "dtype"
    }


@dataclass(frozen=True, kw_only=True)
class Task:
    """One code task, keyed by the id the rubric's `code_tasks` entry gives it.

    The checker draws `trials` (seeded), each runner turns them into objects with `prepare` and calls the
    answer (or `reference`) with `invoke`; `judge` compares the answer's output with the reference's,
    both as they come off the wire (tuples as lists, arrays as numpy).
    """

    id: str
    contract: Contract
    """The reference's parameters (required first, in its order) and, for a class, the methods called:
    how the harness matches a candidate's callable to the call."""
    trials: Callable[[random.Random, ArrayMode], list[Trial]]
    reference: Callable[..., Any]
    judge: Callable[[Trial, Any, Any], Verdict]
    invoke: Callable[[Any, Inputs], Any] | None = None
    """How a runner calls the answer or the reference with prepared inputs; None: `call_by_contract`."""
    prepare: Callable[[Inputs, ArrayMode, str], Inputs] = plain_prepare
    """Runner side: wire arguments, array mode and device → the objects handed to the callable."""
    torch: bool = False
    """Needs torch in the sandbox (tensor tasks, a training loop); such answers run on the GPU when there is one."""
    guarded: tuple[str, ...] = ()
    """Inputs checked for mutation after each call."""
    mutation_fails: bool = False
    """Whether changing a guarded input fails the trial (tensors) or is only noted (an in-place quickselect)."""
    timing: Timing | None = None
    call: Callable[[Any, Inputs], Any] = field(init=False, repr=False)
    """`invoke`, or the contract's call when none is given."""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a task needs an id")
        names = {p.name for p in self.contract.params}
        if not set(self.guarded) <= names:
            raise ValueError(f"task {self.id}: guarded inputs {sorted(set(self.guarded) - names)} are not parameters")
        object.__setattr__(self, "call", self.invoke or call_by_contract(self.contract))


def normal(rng: random.Random, shape: tuple[int, ...], scale: float = 1.0, shift: float = 0.0) -> Any:
    """Draw a seeded float32 numpy array of normal values (scale, shift): a trial's tensor input."""
    import numpy

    generator = numpy.random.default_rng(rng.randrange(2**32))
    return (generator.standard_normal(shape) * scale + shift).astype(numpy.float32)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _degenerate(out: Any, inputs: list[Any], tolerance: float) -> str:
    """Name the cheap output (zeros, a constant, an input echoed) that an answer returned instead of ref."""
    import numpy

    if out.size and not numpy.any(out):
        return "output is all zeros"
    if out.size > 1 and numpy.ptp(out) == 0:
        return "output is a constant"
    for candidate in inputs:
        if getattr(candidate, "shape", None) == out.shape and numpy.allclose(
            out, candidate, rtol=tolerance, atol=tolerance
        ):
            return "output echoes an input"
    return ""


def tensor_judge(trial: Trial, out: Any, ref: Any) -> Verdict:
    """Compare one array, or a list of them, with the reference's at the trial dtype's tolerance."""
    import numpy

    tolerance = TOLERANCE[trial.dtype]
    outs, refs = _as_list(out), _as_list(ref)
    inputs = [v for v in trial.args.values() if hasattr(v, "shape")]
    if len(outs) != len(refs):
        return Verdict(False, error=f"returned {len(outs)} value(s), expected {len(refs)}")
    worst = 0.0
    for i, (o, r) in enumerate(zip(outs, refs, strict=True)):
        name = f"output {i}" if len(refs) > 1 else "output"
        if not hasattr(o, "shape"):
            return Verdict(False, error=f"{name} is a {type(o).__name__}, expected an array")
        o, r = o.astype(numpy.float64), r.astype(numpy.float64)
        if o.shape != r.shape:
            return Verdict(False, error=f"{name} has shape {tuple(o.shape)}, expected {tuple(r.shape)}")
        if not numpy.all(numpy.isfinite(o)):
            return Verdict(False, error=f"{name} holds NaN or infinity")
        error = float(numpy.max(numpy.abs(o - r))) if o.size else 0.0
        worst = max(worst, error)
        if not numpy.allclose(o, r, rtol=tolerance, atol=tolerance):
            cheap = _degenerate(o, inputs, tolerance)
            return Verdict(
                False,
                worst,
                f"{name} differs (max abs err {error:.3g}, tol {tolerance:g})" + (f": {cheap}" if cheap else ""),
            )
    return Verdict(True, worst)
