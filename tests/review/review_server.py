"""A real station: `gradeflow review` in its own process (uvicorn), on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

GRADEFLOW = [sys.executable, "-c", "from gradeflow_cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StationProcess:
    """Start, kill -9 and restart `gradeflow review OUT --round-dir DIR` on one port."""

    def __init__(self, out: Path, round_dir: Path, *, port: int | None = None, double: float = 0.1,
                 per_question: int = 0):
        """`per_question`: the calibration queue's K (0, no calibration queue, unless a test is about it)."""
        self.out, self.round_dir, self.double, self.per_question = out, round_dir, double, per_question
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = out / f"station-{self.port}.log"

    def start(self, timeout_s: float = 60.0) -> None:
        command = [*GRADEFLOW, "review", str(self.out), "--round-dir", str(self.round_dir), "--port", str(self.port),
                   "--double", str(self.double), "--per-question", str(self.per_question)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ | {
                "COLUMNS": "200"})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the station exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the station did not answer in {timeout_s} s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """Send SIGKILL (kill -9): no shutdown handler runs, whatever was in flight is cut off."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def health(self) -> dict:
        return httpx.get(f"{self.url}/healthz", timeout=5).json()

    def wait_exported(self, seq: int, timeout_s: float = 30.0) -> None:
        """Wait until the background export has written every event up to `seq`."""
        deadline = time.monotonic() + timeout_s
        while self.health()["exported_seq"] < seq:
            if time.monotonic() > deadline:
                raise TimeoutError(f"export stuck at {self.health()['exported_seq']} < {seq}")
            time.sleep(0.1)
