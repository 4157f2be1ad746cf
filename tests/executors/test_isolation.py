"""Isolation checks that can fail: each attack is aimed at something this test makes reachable on the host,
and a control run without the sandbox (GRADEFLOW_EXEC_UNSAFE_NO_SANDBOX's path: same harness, same limits)
shows the attack works there. Contained in the sandbox, the same program scores nothing.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from executors import ExecResult, ExecSettings, ExecutorPool
from executors.sandbox import INSIDE_TASKS, bwrap_command, identity_files, sandbox_env

from .conftest import SEED_MODULE, TASKS

pytestmark = pytest.mark.e2e

SANDBOXED = ExecSettings(workers=1, timing_budget_s=2, call_timeout_s=5)
CONTROL = SANDBOXED.model_copy(update={"unsafe_no_sandbox": True})

REACH_LISTENER = '''
import socket


def kth_largest(nums, k):
    """Right only if the host's loopback listener answers."""
    with socket.create_connection(("127.0.0.1", {port}), timeout=1) as connection:
        if connection.recv(16) != b"{token}":
            raise RuntimeError("someone else answered")
    return sorted(nums)[-k]
'''
READ_HOST_FILE = '''
def kth_largest(nums, k):
    """Right only if a file on the host is readable."""
    with open("{path}") as secret:
        if secret.read() != "{token}":
            raise RuntimeError("wrong file")
    return sorted(nums)[-k]
'''
READ_HOST_ENVIRONMENT = '''
import os


def kth_largest(nums, k):
    """Right only if another process's environment (a host process holding a secret) is readable."""
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{{pid}}/environ", "rb") as environ:
                if b"{token}" in environ.read():
                    return sorted(nums)[-k]
        except OSError:
            pass
    raise LookupError("no secret found")
'''


class Listener:
    """A TCP listener on the host's loopback that greets each connection with a token and counts them."""

    def __init__(self, token: str):
        self.token, self.connections = token.encode(), 0
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with connection:
                connection.sendall(self.token)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener(secrets.token_hex(8))
    yield server
    server.close()


def run(settings: ExecSettings, code: str) -> ExecResult:
    with ExecutorPool(settings, task_module=SEED_MODULE, torch=False) as pool:
        return pool.run(TASKS["topk"], code)


def test_the_host_loopback_is_reached_without_the_sandbox_and_not_from_inside(listener):
    code = REACH_LISTENER.format(port=listener.port, token=listener.token.decode())
    control = run(CONTROL, code)
    assert control.checks["correct"] and listener.connections > 0, control.reason
    reached = listener.connections
    contained = run(SANDBOXED, code)
    assert contained.status == "failed" and not any(contained.checks.values()), contained.reason
    assert listener.connections == reached, "the sandboxed answer reached the host's listener"


def test_a_host_file_is_read_without_the_sandbox_and_not_from_inside(tmp_path):
    token = secrets.token_hex(8)
    secret = tmp_path / "answer_key.txt"
    secret.write_text(token)
    code = READ_HOST_FILE.format(path=secret, token=token)
    control = run(CONTROL, code)
    assert control.checks["correct"], control.reason
    contained = run(SANDBOXED, code)
    assert contained.status == "failed" and not any(contained.checks.values()), contained.reason
    assert "FileNotFoundError" in contained.reason


def test_a_host_process_environment_is_read_without_the_sandbox_and_not_from_inside():
    token = secrets.token_hex(8)
    holder = subprocess.Popen(["sleep", "60"], env={"PATH": "/usr/bin:/bin", "GRADEFLOW_ISOLATION_SECRET": token})
    try:
        code = READ_HOST_ENVIRONMENT.format(token=token)
        control = run(CONTROL, code)
        assert control.checks["correct"], control.reason
        contained = run(SANDBOXED, code)
        assert contained.status == "failed" and not any(contained.checks.values()), contained.reason
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="a uid of one's choosing needs root")
def test_the_warm_up_runs_under_a_uid_with_no_passwd_entry(tmp_path):
    """Issue 11: torch's warm-up looked the user up and died where the uid had no entry.

    The checker runs as a uid that neither the host's nor the sandbox's passwd knows; it must still warm
    every torch task up and report ready. Its control: the same sandbox without USER/LOGNAME cannot name
    the user, so the environment is what carries it.
    """
    stranger = 424_242
    settings = ExecSettings()
    identity = identity_files(tmp_path, settings.uid_base)
    command = bwrap_command(settings, uid=settings.uid_base, torch=True, task_module=SEED_MODULE, identity=identity)
    setpriv = next(i for i, arg in enumerate(command) if arg.endswith("setpriv"))
    command[setpriv + 1 : setpriv + 1] = [f"--reuid={stranger}", f"--regid={stranger}"]
    python = command.index("-m") - 3
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    name_user = "import getpass, pwd, os; print(getpass.getuser(), os.getuid() in [p.pw_uid for p in pwd.getpwall()])"
    named = subprocess.run([*command[: python + 3], "-c", name_user], env=env, capture_output=True, text=True)
    assert named.stdout.split() == [sandbox_env()["USER"], "False"], named.stderr
    unset = ["--unsetenv", "USER", "--unsetenv", "LOGNAME"]
    bare = command[: command.index("--chdir")] + unset + command[command.index("--chdir") : python + 3]
    nameless = subprocess.run([*bare, "-c", name_user], env=env, capture_output=True, text=True)
    assert nameless.returncode != 0 and "getpwuid" in nameless.stderr
    warm = (
        "from gf_harness import __main__ as main; from gf_harness._registry import load_tasks; "
        f"main._warm_up(load_tasks('{INSIDE_TASKS}')); print('warm', flush=True)"
    )
    warmed = subprocess.run(
        [*command[: python + 3], "-c", "import torch; " + warm], env=env, capture_output=True, text=True, timeout=300
    )
    assert warmed.stdout.strip() == "warm", warmed.stderr[-2000:]
    assert Path(identity[0]).read_text().count("\n") == 3
