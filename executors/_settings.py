"""Executor settings, read from `GRADEFLOW_EXEC_*` environment variables (pydantic-settings)."""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from executors.harness._records import Limits


class ExecSettings(BaseSettings):
    """Limits and timing knobs for running code answers; defaults suit a 2-core machine."""

    model_config = SettingsConfigDict(env_prefix="GRADEFLOW_EXEC_", frozen=True, extra="ignore")

    cpu_seconds: int = Field(default=20, ge=1)
    """RLIMIT_CPU of one answer's process (SIGXCPU, then SIGKILL one second later)."""
    memory_mb: int = Field(default=2048, ge=64)
    """Host memory an answer may add on top of the warm worker's: address space (RLIMIT_AS) on the CPU,
    data (RLIMIT_DATA) on a GPU, where CUDA's address-space reservations rule RLIMIT_AS out."""
    gpu_memory_mb: int = Field(default=16384, ge=256)
    """Device memory one answer may take through torch's allocator (a fraction of the card per process)."""
    wall_timeout_s: float = Field(default=120.0, gt=0)
    """Wall-clock limit for one whole answer (load, trials, timing); the sandbox is killed after it."""
    call_timeout_s: float = Field(default=10.0, gt=0)
    """Wall-clock limit for one call of the answer (or its loading)."""
    startup_timeout_s: float = Field(default=120.0, gt=0)
    """Time a fresh sandbox may take to start and import torch."""
    output_cap_bytes: int = Field(default=4096, ge=0)
    """How much of an answer's stdout/stderr is kept (the tail) in its result."""
    max_file_bytes: int = Field(default=1 << 20, ge=1024)
    """RLIMIT_FSIZE: largest file (and total output) an answer may write."""
    max_processes: int = Field(default=64, ge=4)
    """RLIMIT_NPROC for the sandbox's uid: processes and threads."""
    max_open_files: int = Field(default=64, ge=16)
    tmp_size_mb: int = Field(default=64, ge=1)
    """Size of the sandbox's private /tmp (tmpfs)."""
    workers: int | None = Field(default=None, ge=1)
    """Warm sandboxes a batch runs in parallel (one answer at a time each); unset: one per core of the
    machine the pool runs on (`sandboxes()`: a Dask worker's own, with settings read by the round job)."""
    uid_base: int = Field(default=200_000, ge=1000)
    """Sandboxed workers run as uid uid_base + slot: unprivileged, and none shares another's uid."""
    unsafe_no_sandbox: bool = False
    """Development only: run answers without bubblewrap (rlimits still apply). Never on real answers."""
    bwrap: str = "bwrap"
    seed: int = 0
    """Seed of every trial and timing input: the same answer gets the same inputs each run."""
    timing_repeats: int = Field(default=4, ge=1)
    """Rounds over the sizes for the complexity fit (median per size; cheap sizes get up to 3×)."""
    speed_repeats: int = Field(default=9, ge=1)
    """Calls per size for speed ratios (median of each side)."""
    call_budget_s: float = Field(default=0.25, gt=0)
    """Complexity sizes stop growing before one call would take longer than this."""
    timing_budget_s: float = Field(default=20.0, gt=0)
    """Sizes stop growing once timing an answer has taken this long."""

    def sandboxes(self) -> int:
        """How many warm sandboxes a pool starts here: `workers`, else every core of this machine."""
        return self.workers or os.cpu_count() or 1

    def limits(self) -> Limits:
        """Return what the in-sandbox checker needs."""
        return Limits(
            cpu_seconds=self.cpu_seconds,
            memory_bytes=self.memory_mb << 20,
            gpu_memory_bytes=self.gpu_memory_mb << 20,
            max_processes=self.max_processes,
            max_file_bytes=self.max_file_bytes,
            max_open_files=self.max_open_files,
            call_timeout_s=self.call_timeout_s,
            output_cap_bytes=self.output_cap_bytes,
            seed=self.seed,
            timing_repeats=self.timing_repeats,
            speed_repeats=self.speed_repeats,
            call_budget_s=self.call_budget_s,
            timing_budget_s=self.timing_budget_s,
        )
