"""Length-prefixed frames between the host, the checker and the runners.

A frame is a JSON header plus raw byte blobs (array data), never pickle: the checker reads frames
written by candidate-controlled processes, so decoding must not be able to run code.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

_PREFIX = struct.Struct("<II")  # header length, number of blobs
_BLOB = struct.Struct("<Q")


class WireError(Exception):
    """A frame is malformed, too large, or the other side went away."""


def _wait(fd: int, deadline: float | None, *, write: bool) -> None:
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    ready = (
        select.select([], [fd], [], max(remaining, 0))
        if write
        else select.select([fd], [], [], max(remaining, 0))
    )
    if not any(ready):
        raise Deadline("no answer within the time limit")


class Deadline(WireError):
    """The other side did not read or write in time."""


def write_fd(
    fd: int, header: dict[str, Any], blobs: list[bytes] | None = None, *, deadline: float | None = None
) -> None:
    """Write one frame to a raw fd, giving up at `deadline` (time.monotonic) when the reader stalls."""
    blobs = blobs or []
    payload = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    parts = [_PREFIX.pack(len(payload), len(blobs)), payload]
    for blob in blobs:
        parts += [_BLOB.pack(len(blob)), blob]
    view = memoryview(b"".join(parts))
    while view:
        _wait(fd, deadline, write=True)
        try:
            written = os.write(fd, view[: 1 << 20])
        except BrokenPipeError:
            raise WireError("the other side closed the channel") from None
        view = view[written:]


def _read_fd(fd: int, size: int, deadline: float | None) -> bytes:
    chunks, missing = [], size
    while missing:
        _wait(fd, deadline, write=False)
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise WireError("the other side closed the channel")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_fd(fd: int, *, limit: int, deadline: float | None = None) -> tuple[dict[str, Any], list[bytes]]:
    """Read one frame from a raw fd; a partial frame cannot hold the reader past `deadline`."""
    header_size, n_blobs = _PREFIX.unpack(_read_fd(fd, _PREFIX.size, deadline))
    if header_size > limit or n_blobs > 1024:
        raise WireError(f"frame too large ({header_size} header bytes, {n_blobs} blobs; limit {limit})")
    try:
        header = json.loads(_read_fd(fd, header_size, deadline))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError(f"frame header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise WireError("frame header is not a JSON object")
    blobs, total = [], header_size
    for _ in range(n_blobs):
        (size,) = _BLOB.unpack(_read_fd(fd, _BLOB.size, deadline))
        total += size
        if total > limit:
            raise WireError(f"frame larger than the limit of {limit} bytes")
        blobs.append(_read_fd(fd, size, deadline))
    return header, blobs
