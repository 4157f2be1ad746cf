"""Files written whole or not at all: a reader, a crash or a concurrent writer never sees half a file.

Every cache entry, state file, report and table part goes through `atomic_file`: the bytes are written to
a staging file beside the target, flushed to disk, then renamed over it (a rename within one folder is
atomic on POSIX), and the staging file is removed when anything fails.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal, overload


@overload
@contextmanager
def atomic_file(path: Path, mode: Literal["wb"] = "wb") -> Iterator[IO[bytes]]: ...
@overload
@contextmanager
def atomic_file(path: Path, mode: Literal["w"]) -> Iterator[IO[str]]: ...
@contextmanager
def atomic_file(path: Path, mode: Literal["w", "wb"] = "wb") -> Iterator[IO]:
    """A handle to write `path` through; the file appears, complete, only when the block ends cleanly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to `path` whole or not at all."""
    with atomic_file(path, "w" if isinstance(data, str) else "wb") as out:
        out.write(data)
    return path
