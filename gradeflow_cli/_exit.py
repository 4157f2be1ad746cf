"""End the process with the command's exit code, not the one native teardown may leave.

Arrow's and DuckDB's C++ thread pools can abort the process while CPython finalizes its modules, after the
last table was written (apache/arrow#34314: "terminate called without an active exception", SIGABRT).
A round that wrote every table would then exit 134, and a scheduler would retry or page for nothing. So
the process does what finalization does that matters here (the threading exit hooks and the join of the
non-daemon threads, the atexit handlers that stop servers and flush logs, flushing the streams) and then
leaves with `os._exit`.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


def _code(status: object) -> int:
    """The exit code `sys.exit(status)` would give: None is 0, an int is itself, anything else is printed, 1."""
    if status is None:
        return 0
    if isinstance(status, int):
        return status
    print(status, file=sys.stderr)
    return 1


def exit_process(status: object = None) -> None:
    """Finish the process as `sys.exit(status)` would, short of the native finalizers."""
    code = _code(status)
    # The interpreter's own first steps of finalization, in its order: the threading exit hooks (they tell
    # idle thread-pool workers to stop), the join of the non-daemon threads, then the atexit handlers.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: there is nobody left to read it
            pass
    os._exit(code)
