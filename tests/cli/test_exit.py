"""`gradeflow_cli.exit_process`: the process leaves with the command's code, and what finalization owes
(non-daemon threads, atexit handlers, buffered output) is done first.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _run(body: str) -> subprocess.CompletedProcess[str]:
    script = "import atexit, threading, time\nfrom gradeflow_cli._exit import exit_process\n" + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("status", "code"), [("None", 0), ("0", 0), ("3", 3), ("'round incomplete'", 1)])
def test_the_process_exits_with_the_code_sys_exit_would_give(status: str, code: int) -> None:
    done = _run(f"exit_process({status})\nraise AssertionError('exit_process returned')")
    assert done.returncode == code, done.stderr
    assert "AssertionError" not in done.stderr
    if code == 1:
        assert "round incomplete" in done.stderr


def test_threads_atexit_handlers_and_buffered_output_finish_before_the_exit() -> None:
    done = _run("""
        atexit.register(lambda: print("server stopped"))
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished"))).start()
        print("tables written", end="")
        exit_process(0)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tables written")
    assert done.stdout.index("thread finished") < done.stdout.index("server stopped")


def test_an_idle_thread_pool_does_not_hold_the_exit() -> None:
    """Its workers are non-daemon threads that stop only when told to, as the interpreter's exit hooks do."""
    done = _run("""
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(2)
        print(pool.submit(lambda: "pool worked").result())
        exit_process(0)
    """)
    assert done.returncode == 0, done.stderr
    assert "pool worked" in done.stdout
