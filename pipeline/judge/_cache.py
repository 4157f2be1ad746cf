"""Content-addressed on-disk cache of judge replies: a re-run or a resumed round makes no calls.

The key is everything a reply depends on (model, prompt sha, rubric-item sha, answer sha, sample
index, temperature); only replies that passed the schema are stored, so a failure is retried.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.files import write_atomic


class CachedReply(BaseModel):
    """A model reply as it came back, with what it cost then."""

    model_config = ConfigDict(frozen=True)

    content: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: float = 0.0


def cache_key(
    *,
    model: str,
    prompt_sha: str,
    rubric_sha: str,
    answer: str,
    raw_answer: str,
    sample: int,
    temperature: float,
) -> str:
    """sha256 over what the reply depends on.

    The raw answer is part of the key beside the text judged: two answers the injection screen reduces
    to one text are still two answers (an injection variant is judged, not served from its clean twin).
    """
    answer_sha = hashlib.sha256(answer.encode()).hexdigest()
    raw_sha = hashlib.sha256(raw_answer.encode()).hexdigest()
    parts = [model, prompt_sha, rubric_sha, answer_sha, raw_sha, str(sample), f"{temperature:g}"]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class JudgeCache:
    """Replies as JSON files under `directory/ab/abcdef….json`; writes are atomic (temp + rename)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        """Return the stored reply, or None (a missing or unreadable entry is a miss, never an error)."""
        try:
            return CachedReply.model_validate_json(self._path(key).read_bytes())
        except (OSError, ValidationError, json.JSONDecodeError):
            return None

    def put(self, key: str, reply: CachedReply) -> None:
        """Store a reply; concurrent writers of one key write the same content, last rename wins."""
        write_atomic(self._path(key), reply.model_dump_json().encode())
