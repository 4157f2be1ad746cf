"""A round directory: `round.yaml` (round id, exam rubric, optional schedule and settings) and `submissions/`."""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rubric_schema import Exam, load_exam


class RoundSettings(BaseModel):
    """Per-round overrides of the scoring settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    samples: int | None = Field(default=None, ge=1, le=15)
    """Judge samples per item (temperature > 0 when more than one)."""
    max_submission_bytes: int | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, ge=1)
    """Submissions per Prefect task."""


class RoundConfig(BaseModel):
    """round.yaml, validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    round_id: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    exam: Path
    """Rubric path, relative to round.yaml."""
    schedule: str | None = None
    """Cron expression for `gradeflow serve`."""
    settings: RoundSettings = RoundSettings()


class RoundError(Exception):
    """round.yaml is missing or invalid; the message names the file and the field."""


class Round(BaseModel):
    """A loaded round: its config, its validated exam and where its submissions are."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    config: RoundConfig
    exam: Exam
    rubric_path: Path
    submissions_dir: Path


def load_round(round_dir: str | Path) -> Round:
    """Read and validate round.yaml and its rubric; a RubricError propagates with its own detail."""
    round_dir = Path(round_dir)
    config_file = round_dir / "round.yaml"
    try:
        data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except OSError as error:
        raise RoundError(f"{config_file}: cannot read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise RoundError(f"{config_file}: not valid YAML: {error}") from None
    try:
        config = RoundConfig.model_validate(data)
    except ValidationError as error:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise RoundError(f"{config_file}: {detail}") from None
    rubric_path = (round_dir / config.exam).resolve()
    submissions_dir = round_dir / "submissions"
    if not submissions_dir.is_dir():
        raise RoundError(f"{round_dir}: no submissions/ folder")
    return Round(
        config=config, exam=load_exam(rubric_path), rubric_path=rubric_path, submissions_dir=submissions_dir
    )


LOCK_FILE = ".gradeflow.lock"


class RoundBusy(Exception):
    """Another run is scoring the same round into the same folder; the message says which and since when."""


class RoundShrunk(Exception):
    """A re-score found fewer submission files than the round's tables hold; nothing was written."""


@dataclass(frozen=True)
class RoundLock:
    """Proof that the caller holds a round folder's lock: handed to work done inside it (scoring's
    reapply-reviews runs the review export), which then runs without taking the lock again, as flock
    would refuse a second hold of the same file even in the same process.
    """

    path: Path
    """The lock file, resolved."""

    def covers(self, out_dir: str | Path) -> bool:
        return self.path == (Path(out_dir) / LOCK_FILE).resolve()


LOCK_POLL_S = 0.01
"""How often a waiting run tries the lock again."""


@contextmanager
def round_lock(
    out_dir: str | Path, round_id: str, *, wait_s: float = 0.0, held: RoundLock | None = None
) -> Iterator[RoundLock]:
    """Hold the round's output folder: one writer at a time (a scoring run, the review export), so a cron
    tick during a manual run, or an export during a re-score, never interleaves its writes with another's.

    A flock on `OUT/.gradeflow.lock`: the kernel drops it when the holder dies, however it dies, so a
    killed run never leaves a stale lock behind. The file records who holds it, for the refusal message.
    `wait_s`: how long to wait for the holder before RoundBusy (0: refuse at once, as scoring does).
    `held`: the caller already holds this folder's lock (a RoundLock it was given): yielded as it is.
    """
    path = Path(out_dir) / LOCK_FILE
    if held is not None:
        if not held.covers(out_dir):
            raise ValueError(f"the lock held is {held.path}, not {path}")
        yield held
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(LOCK_POLL_S)
                    continue
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            waited = f" (waited {wait_s:g} s)" if wait_s else ""
            raise RoundBusy(
                f"round {round_id} is being written into {out_dir} by {holder}{waited}; this run stops without "
                f"writing (lock {path}: it is released when that run ends)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        try:
            yield RoundLock(path.resolve())
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
