"""Round-scoring settings from the environment (GRADEFLOW_*); the judge and the executors have their own."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CACHE_ROOT = Path.home() / ".cache" / "gradeflow"
"""Where every cache lives unless GRADEFLOW_CACHE_DIR says otherwise (the judge's and the code runs')."""


class ScoreSettings(BaseSettings):
    """How a round is run: batching, parallelism, caches, the task runner."""

    model_config = SettingsConfigDict(env_prefix="GRADEFLOW_", extra="ignore")

    batch_size: int = Field(default=8, ge=1)
    """Submissions per Prefect task: large enough that orchestration overhead stays small."""
    workers: int = Field(default=4, ge=1)
    """Batches scored at once (threads, or Dask workers' slots)."""
    cache_dir: Path = DEFAULT_CACHE_ROOT
    """Content-addressed caches (code runs; the judge keeps its own under the same root by default)."""
    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: str | None = None
    """Scheduler of an existing Dask cluster (tcp://host:8786); unset with task_runner=dask: a local cluster."""
    dask_judge: Literal["shared", "per-worker"] = "shared"
    """Where Dask workers judge when no endpoint is configured. shared: one embedded llama-server in the
    flow's process, its URL handed to every worker (workers on the flow's machine). per-worker: each worker
    process starts its own on its first batch and keeps it for the round (workers on other machines judge
    on their own CPU/GPU). A configured endpoint (GRADEFLOW_JUDGE_BASE_URL, e.g. vLLM) serves every worker
    either way."""
    samples: int = Field(default=1, ge=1, le=15)
