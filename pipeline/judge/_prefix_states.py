"""A question's evaluated prompt prefix kept across rounds: llama-server's slot save and restore.

The rubric prefix of a seed-exam question is most of what its first call costs, and it is the same in
every round of the exam. After a question's first call on a slot the slot is saved (its KV state, under
the server's --slot-save-path) to a file named for the model, the prefix and the llama.cpp build; the next
round restores it into the slot before its first call, and the server then reuses the prefix as if it had
just computed it. A restore that fails, or that the next call shows did not take (the server reports
fewer cached tokens than the prefix holds), costs nothing but the evaluation it was meant to save: the
file is dropped, and after a restore that did not take the rest of the run evaluates as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)

STATE_SUFFIX = ".prefix"


@runtime_checkable
class SlotServer(Protocol):
    """What saving and restoring needs of a backend (pipeline.judge.LocalChat)."""

    model: str
    slots: int

    def build(self) -> str: ...

    def slot_state(self, slot: int, action: str, filename: str) -> bool: ...


@dataclass
class PrefixStateStats:
    """What the saved prefixes did in one run."""

    restored: int = 0
    saved: int = 0
    failed: int = 0
    """Restores the server refused, or that the next call showed had not taken."""


@dataclass
class PrefixStates:
    """Saved prefix states in `directory` (the server's --slot-save-path), at most `max_bytes` on disk."""

    server: SlotServer
    directory: Path
    max_bytes: int
    stats: PrefixStateStats = field(default_factory=PrefixStateStats)
    _broken: bool = False
    """A restore did not take on this build: restoring is off for the rest of the run."""
    _pending: dict[tuple[int, str], str] = field(default_factory=dict)
    """(slot, prefix sha) restored and not yet confirmed by a call → the file name."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _name(self, prefix_sha: str) -> str:
        key = f"{self.server.model}\n{self.server.build()}\n{prefix_sha}"
        return hashlib.sha256(key.encode()).hexdigest()[:40] + STATE_SUFFIX

    def restore(self, slot: int, prefix_sha: str) -> bool:
        """Load the question's saved prefix into `slot`, if one is saved; whether the server loaded it."""
        if self._broken:
            return False
        name = self._name(prefix_sha)
        path = self.directory / name
        if not path.is_file():
            return False
        if not self.server.slot_state(slot, "restore", name):
            log.warning("llama-server did not restore the saved prefix %s; evaluating it instead", name)
            path.unlink(missing_ok=True)
            with self._lock:
                self.stats.failed += 1
            return False
        with contextlib.suppress(FileNotFoundError):  # evicted meanwhile: never recreated as an empty file
            os.utime(path)  # recently used: eviction keeps it
        with self._lock:
            self._pending[(slot, prefix_sha)] = name
        return True

    def confirm(self, slot: int, prefix_sha: str, *, cached_tokens: int | None, prefix_tokens: int | None) -> None:
        """Check the first call after a restore: the server must have reused (nearly) the whole prefix."""
        with self._lock:
            name = self._pending.pop((slot, prefix_sha), None)
        if name is None or cached_tokens is None or prefix_tokens is None:
            return
        if cached_tokens >= 0.9 * prefix_tokens:
            with self._lock:
                self.stats.restored += 1
            return
        log.warning(
            "a restored prefix was not reused (%d of %d tokens cached): restoring is off for this run",
            cached_tokens, prefix_tokens,
        )  # fmt: skip
        (self.directory / name).unlink(missing_ok=True)
        with self._lock:
            self.stats.failed += 1
            self._broken = True

    def save(self, slot: int, prefix_sha: str) -> None:
        """Save `slot` (which has just evaluated the question's prefix) unless the prefix is saved already."""
        name = self._name(prefix_sha)
        if (self.directory / name).is_file():
            return
        if self.server.slot_state(slot, "save", name):
            with self._lock:
                self.stats.saved += 1
            self._evict()

    def _evict(self) -> None:
        """Drop the least recently used states until the directory is within its bound."""
        with self._lock:
            states = []
            for path in self.directory.glob(f"*{STATE_SUFFIX}"):
                try:  # another thread or process sharing the folder may have removed it since the listing
                    states.append((path.stat(), path))
                except FileNotFoundError:
                    continue
            states.sort(key=lambda state: state[0].st_mtime)
            total = sum(stat.st_size for stat, _ in states)
            for stat, path in states:
                if total <= self.max_bytes:
                    break
                total -= stat.st_size
                path.unlink(missing_ok=True)
