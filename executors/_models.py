"""What the executors hand to the rest of gradeflow: one ExecResult per code answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rubric_schema import CodeCheckName

ExecStatus = Literal["ok", "failed", "error", "timeout", "killed", "no_code", "needs_review", "sandbox_unavailable"]
"""needs_review: the answer was not run because which of its callables is the answer could not be decided."""
Device = Literal["cpu", "cuda"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class TestOutcome(_Frozen):
    """One trial or one timed size: exactly the columns of the `executor_runs` table."""

    __test__ = False  # not a pytest class

    test_id: str
    passed: bool
    max_abs_err: float | None = None
    candidate_ms: float | None = None
    """Median time of the answer's call: CPU time of its process read by the checker (CUDA events on GPU)."""
    reference_ms: float | None = None
    speed_ratio: float | None = None
    """Median over back-to-back pairs of candidate / reference time, same inputs and device."""
    complexity_exponent: float | None = None
    device: Device = "cpu"
    error: str = ""


class ExecResult(_Frozen):
    """The outcome of running one code answer; hostile or broken code gives a status and a reason."""

    task_id: str
    question_id: str
    status: ExecStatus
    checks: dict[CodeCheckName, bool]
    """Each check the task declares: what `pipeline.scoring` turns into points (False when not reached)."""
    reason: str
    """Why, in words: the first wrong trial, the limit hit, or the measured figures."""
    complexity_exponent: float | None = None
    """Slope of log time against log n over at least four sizes."""
    speed_ratio: float | None = None
    """Candidate / reference time at the largest size."""
    device: Device = "cpu"
    callable: str = ""
    """The answer's function or class that was called (its declared name, an alias, or found by signature)."""
    tests: list[TestOutcome] = Field(default_factory=list)
    output_tail: str = ""
    """The end of what the answer printed (capped)."""
    notes: list[str] = Field(default_factory=list)
    """Observations that did not fail a check (e.g. an input sorted in place)."""
    elapsed_s: float = 0.0
