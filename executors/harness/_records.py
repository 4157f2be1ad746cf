"""The records that cross the sandbox's wall: a check request with its limits, and the checker's result.

Frozen where they are read only, built with keywords, and turned into JSON (`to_wire`) or back
(`from_wire`) only at the pipe: a misspelt or missing field fails there, not deep inside a check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

CheckStatus = Literal["ok", "failed", "error", "timeout", "killed", "needs_review"]


def _exact(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The wire dict's fields, refusing unknown ones (a version mismatch between host and harness)."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
    return data


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one answer may use, and how it is timed (from ExecSettings)."""

    cpu_seconds: int
    memory_bytes: int
    gpu_memory_bytes: int
    max_processes: int
    max_file_bytes: int
    max_open_files: int
    call_timeout_s: float
    output_cap_bytes: int
    seed: int
    timing_repeats: int
    speed_repeats: int
    call_budget_s: float
    timing_budget_s: float


@dataclass(frozen=True, kw_only=True)
class CheckRequest:
    """One answer to check against one task of the loaded module."""

    task_id: str
    entrypoint: str
    aliases: tuple[str, ...] = ()
    code: str
    limits: Limits

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready form for the pipe into the sandbox."""
        return asdict(self)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CheckRequest:
        """Rebuild a request read off the pipe."""
        data = _exact(cls, dict(data))
        limits = Limits(**_exact(Limits, data.pop("limits")))
        return cls(**{**data, "aliases": tuple(data.get("aliases", ()))}, limits=limits)


@dataclass(frozen=True, kw_only=True)
class TrialOutcome:
    """One trial or one timed size: the columns of a TestOutcome."""

    test_id: str
    passed: bool
    device: str
    max_abs_err: float | None = None
    candidate_ms: float | None = None
    reference_ms: float | None = None
    speed_ratio: float | None = None
    complexity_exponent: float | None = None
    error: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "error", self.error[:500])


@dataclass(kw_only=True)
class CheckResult:
    """What the checker found for one answer; filled in as the check proceeds, then sent as is."""

    status: CheckStatus = "ok"
    reason: str = ""
    correct: bool = False
    complexity_exponent: float | None = None
    speed_ratio: float | None = None
    device: str = "cpu"
    callable: str = ""
    tests: list[TrialOutcome] = field(default_factory=list)
    output_tail: str = ""
    notes: list[str] = field(default_factory=list)
    internal: bool = False
    """The checker itself failed (a bug, not the answer's doing)."""

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready form for the pipe out of the sandbox."""
        return asdict(self)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CheckResult:
        """Rebuild a result read off the pipe."""
        data = _exact(cls, dict(data))
        tests = [TrialOutcome(**_exact(TrialOutcome, t)) for t in data.pop("tests", [])]
        return cls(**data, tests=tests)
