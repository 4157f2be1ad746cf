"""The hostile-code suite: each program under hostile/ ends contained, with a reason and 0 for its checks.

Every program is written so that, if its attack worked, it would return the right answer (or forge
one); contained, it fails. All run as one batch on two warm sandboxes, then clean probes check that
scoring goes on and that nothing an answer left behind survives into the next answer.

The network and file probes (LIVE) aim at targets this module makes real on the host: listeners that greet
with a token, a planted file, the checkout's rubric, the host's passwd. A control run of the same programs
without the sandbox must reach every one, so an offline CI or an empty home cannot pass them vacuously.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import psutil
import pytest

from executors import ExecResult, ExecSettings, ExecutorPool

from .conftest import HOSTILE, SEED_MODULE, TASKS, answer

pytestmark = pytest.mark.e2e

PROGRAMS = sorted(HOSTILE.glob("*.py"))
SETTINGS = ExecSettings(
    cpu_seconds=2,
    call_timeout_s=3,
    wall_timeout_s=40,
    memory_mb=512,
    workers=2,
    timing_budget_s=5,
    max_processes=48,
)
CONTROL = SETTINGS.model_copy(update={"unsafe_no_sandbox": True, "workers": 1})
_HEADER = re.compile(r"^# task: (?P<task>\w+); expect: (?P<expect>[\w|]+)$")
LIVE = ("net_connect", "net_dns", "net_loopback_host", "read_home", "read_rubric", "read_passwd")
"""Probes whose `$placeholders` name a live target on the host (`Targets`)."""
RUBRIC = Path(__file__).resolve().parents[2] / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"


@dataclass
class Server:
    """A host socket (TCP or UDP) that answers every connection or datagram with a token and counts them."""

    host: str
    token: bytes
    kind: int = socket.SOCK_STREAM
    hits: int = 0
    sock: socket.socket = field(init=False)
    running: bool = True

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, self.kind)
        self.sock.bind((self.host, 0))
        if self.kind == socket.SOCK_STREAM:
            self.sock.listen()
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        while self.running:
            try:
                if self.kind == socket.SOCK_STREAM:
                    connection, _ = self.sock.accept()
                    with connection:
                        connection.sendall(self.token)
                else:
                    query, peer = self.sock.recvfrom(512)
                    self.sock.sendto(query[:2] + b"\x81\x80" + self.token, peer)
                self.hits += 1
            except TimeoutError:
                continue

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


def host_address() -> str:
    """The host's first non-loopback IPv4 address (what another machine would be): 127.0.0.1 without one."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return "127.0.0.1"


@dataclass
class Targets:
    """The live targets of the LIVE probes, and each probe's placeholders."""

    servers: dict[str, Server]
    planted: Path
    values: dict[str, dict[str, str]]

    def source(self, program: Path) -> str:
        text = program.read_text(encoding="utf-8")
        return Template(text).substitute(self.values[program.stem]) if program.stem in LIVE else text

    def hits(self) -> dict[str, int]:
        return {name: server.hits for name, server in self.servers.items()}


@pytest.fixture(scope="module")
def targets() -> Iterator[Targets]:
    token = secrets.token_hex(8)
    host = host_address()
    servers = {
        "net_connect": Server(host, token.encode()),
        "net_dns": Server(host, token.encode(), socket.SOCK_DGRAM),
        "net_loopback_host": Server("127.0.0.1", token.encode()),
    }
    planted = Path.home() / f".gradeflow-hostile-probe-{token}"
    planted.write_text(token, encoding="utf-8")
    digest = {path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in (RUBRIC, "/etc/passwd")}
    values = {name: {"host": s.host, "port": str(s.port), "token": token} for name, s in servers.items()}
    values["read_home"] = {"path": str(planted), "token": token}
    values["read_rubric"] = {"path": str(RUBRIC), "digest": digest[RUBRIC]}
    values["read_passwd"] = {"digest": digest["/etc/passwd"]}
    try:
        yield Targets(servers, planted, values)
    finally:
        planted.unlink()
        for server in servers.values():
            server.close()


def header(path: Path) -> tuple[str, set[str]]:
    """Read the task a program answers and the statuses that count as contained."""
    match = _HEADER.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name}: first line must be '# task: <id>; expect: <status>[|<status>]'"
    return match["task"], set(match["expect"].split("|"))


@pytest.fixture(scope="module")
def outcomes(targets: Targets) -> tuple[dict[str, ExecResult], list[ExecResult], dict[str, int]]:
    """Every program in the sandbox, the clean probes after them, and how often each live server was hit."""
    os.environ["GRADEFLOW_TEST_SECRET"] = "planted-by-test-hostile"  # env_secrets.py wins if it leaks in
    try:
        with ExecutorPool(SETTINGS, task_module=SEED_MODULE, torch=True) as pool:
            jobs = [(TASKS[header(p)[0]], targets.source(p)) for p in PROGRAMS]
            results = pool.map(jobs)
            hits = targets.hits()
            probes = [pool.run(TASKS["topk"], answer("probe_clean_sandbox")) for _ in range(4)]
    finally:
        del os.environ["GRADEFLOW_TEST_SECRET"]
    return dict(zip((p.name for p in PROGRAMS), results, strict=True)), probes, hits


def test_suite_has_at_least_thirty_programs():
    assert len(PROGRAMS) >= 30


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_hostile_program_is_contained(outcomes, program):
    result = outcomes[0][program.name]
    _, expected = header(program)
    assert result.status in expected, f"{program.name}: {result.status}: {result.reason}"
    assert not any(result.checks.values()), f"{program.name} earned {result.checks}"
    assert result.reason.strip()


def test_scoring_goes_on_in_clean_sandboxes_after_the_suite(outcomes):
    probes = outcomes[1]
    assert [p.status for p in probes] == ["ok"] * len(probes), [p.reason for p in probes]
    assert all(p.checks["correct"] for p in probes)


def test_output_flood_keeps_only_a_capped_tail(outcomes):
    flood = outcomes[0]["output_flood.py"]
    assert 0 < len(flood.output_tail) <= SETTINGS.output_cap_bytes


def test_live_probes_reach_their_targets_without_the_sandbox_and_not_from_inside(outcomes, targets):
    """The control: unsandboxed, each LIVE probe reaches its target and is right; sandboxed (the batch
    above), none was, and no server saw a single connection or query from it.
    """
    assert outcomes[2] == dict.fromkeys(targets.servers, 0), "a sandboxed probe reached a host server"
    live = [HOSTILE / f"{name}.py" for name in LIVE]
    with ExecutorPool(CONTROL, task_module=SEED_MODULE, torch=False) as pool:
        controls = pool.map([(TASKS[header(p)[0]], targets.source(p)) for p in live])
    for program, control in zip(live, controls, strict=True):
        assert control.checks["correct"], f"{program.stem} missed its target unsandboxed: {control.reason}"
    assert all(hits > 0 for hits in targets.hits().values()), targets.hits()
