"""Progress of the running round for the CLI's bar: batches report here when they finish.

Only in-process task runners (threads) reach the listener; on Dask the bar stays at the start and the
Prefect UI shows the progress instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_listeners: list[Callable[[str, int], None]] = []


@contextmanager
def listen(callback: Callable[[str, int], None]) -> Iterator[None]:
    """Receive ("start", total) once, then ("advance", n) per finished batch, while the block runs."""
    with _lock:
        _listeners.append(callback)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(callback)


def _emit(event: str, n: int) -> None:
    with _lock:
        listeners = list(_listeners)
    for callback in listeners:
        callback(event, n)


def start(total: int) -> None:
    """Announce how many submissions the round has."""
    _emit("start", total)


def advance(n: int) -> None:
    """Announce that n more submissions are scored."""
    _emit("advance", n)
