"""The hostile-code suite: each program under hostile/ ends contained, with a reason and 0 for its checks.

Every program is written so that, if its attack worked, it would return the right answer (or forge
one); contained, it fails. All run as one batch on two warm sandboxes, then clean probes check that
scoring goes on and that nothing an answer left behind survives into the next answer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

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
_HEADER = re.compile(r"^# task: (?P<task>\w+); expect: (?P<expect>[\w|]+)$")


def header(path: Path) -> tuple[str, set[str]]:
    """Read the task a program answers and the statuses that count as contained."""
    match = _HEADER.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name}: first line must be '# task: <id>; expect: <status>[|<status>]'"
    return match["task"], set(match["expect"].split("|"))


@pytest.fixture(scope="module")
def outcomes() -> tuple[dict[str, ExecResult], list[ExecResult]]:
    os.environ["GRADEFLOW_TEST_SECRET"] = "planted-by-test-hostile"  # env_secrets.py wins if it leaks in
    try:
        with ExecutorPool(SETTINGS, task_module=SEED_MODULE, torch=True) as pool:
            jobs = [(TASKS[header(p)[0]], p.read_text(encoding="utf-8")) for p in PROGRAMS]
            results = pool.map(jobs)
            probes = [pool.run(TASKS["topk"], answer("probe_clean_sandbox")) for _ in range(4)]
    finally:
        del os.environ["GRADEFLOW_TEST_SECRET"]
    return dict(zip((p.name for p in PROGRAMS), results, strict=True)), probes


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
