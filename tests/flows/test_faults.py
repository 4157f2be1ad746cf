"""Issue 13 item 2 end to end: a judge that dies mid-round, through `gradeflow score` on real Prefect.

The judge is tests/support/fake_llama_server.py, a process of its own that a test can kill -9 like the
real llama-server: as the embedded server (gradeflow starts and supervises it) and as a remote endpoint
(the test starts it, kills it for good, then brings it back for the re-run). Every answered request is
logged by the hash of its body, so "nothing judged twice" is counted, not assumed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.store import query

REPO = Path(__file__).parents[2]
DEMO = REPO / "eval_sets" / "ai-engineer-mid" / "rounds" / "demo"
FAKE = REPO / "tests" / "support" / "fake_llama_server.py"
GRADEFLOW = Path(sys.executable).parent / "gradeflow"
BUDGET_S = 6.0

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADEFLOW_", "PREFECT_", "FAKE_LLAMA_"))}
    return env | {
        "GRADEFLOW_JUDGE_CACHE_DIR": str(tmp / "judge"),
        "GRADEFLOW_CACHE_DIR": str(tmp / "cache"),
        "GRADEFLOW_JUDGE_MODE": "item",
        "GRADEFLOW_BATCH_SIZE": "2",
        "GRADEFLOW_PROGRESS_EVERY_S": "1",
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "FAKE_LLAMA_LOG": str(tmp / "answered.log"),
        "FAKE_LLAMA_PIDS": str(tmp / "pids.log"),
        "FAKE_LLAMA_DELAY_S": "0.3",
        **extra,
    }


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _score(env: dict[str, str], out: Path, judge: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(GRADEFLOW), "score", str(DEMO), "--out", str(out), "--judge", judge],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _wait(condition, process: subprocess.Popen[str], what: str, timeout_s: float = 400) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, f"the round ended before {what}:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _unscored(out: Path) -> int:
    """Items without points for want of the judge (an item the injection screen emptied is left to a person)."""
    _, [(n,)] = query(
        out,
        "select count(*) from item_scores where raw_points is null and kind <> 'missing'"
        " and not coalesce(review_reason like '%a person decides%', false)",
    )
    return n


def test_embedded_server_killed_three_times_the_round_still_completes(tmp_path: Path) -> None:
    """Target: the embedded server killed 3 times during the demo round → 0 items unscored, exit code 0."""
    wrapper = tmp_path / "llama-server"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    wrapper.chmod(0o755)
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    env = _env(
        tmp_path,
        GRADEFLOW_JUDGE_LOCAL_SERVER_BINARY=str(wrapper),
        GRADEFLOW_JUDGE_LOCAL_MODEL_FILE=str(tmp_path / "model.gguf"),
        GRADEFLOW_JUDGE_LOCAL_MODEL_DIR=str(tmp_path / "models"),
    )
    answered, pids = tmp_path / "answered.log", tmp_path / "pids.log"
    process = _score(env, tmp_path / "out", "local")
    for kill, after in enumerate((4, 10, 16), start=1):
        _wait(lambda after=after: len(_lines(answered)) >= after, process, f"{after} answers")
        os.kill(int(_lines(pids)[-1]), signal.SIGKILL)
        _wait(lambda kill=kill: len(_lines(pids)) > kill, process, f"restart {kill}")
    stdout, _ = process.communicate(timeout=600)
    assert process.returncode == 0, stdout
    assert len(_lines(pids)) == 4  # the first start and three restarts
    assert _unscored(tmp_path / "out") == 0
    assert "incomplete" not in stdout and "Traceback" not in stdout


def _fake_endpoint(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, str(FAKE), "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise AssertionError("the fake endpoint did not start")


def _flow_states(tmp: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp / "prefect" / "prefect.db") as db:
        return db.execute("select state_type, state_name from flow_run order by start_time").fetchall()


def test_endpoint_gone_stops_incomplete_within_the_budget_and_a_rerun_completes(tmp_path: Path) -> None:
    """Target: the endpoint gone for good → exit 3 within 60 s of the budget, one line saying what failed
    and how many items wait; the re-run completes it and no request is answered twice.
    """
    from pipeline.judge._local import free_port

    port = free_port()
    env = _env(
        tmp_path,
        GRADEFLOW_JUDGE_BASE_URL=f"http://127.0.0.1:{port}/v1",
        GRADEFLOW_JUDGE_MODEL="stub",
        GRADEFLOW_JUDGE_OUTAGE_BUDGET_S=str(BUDGET_S),
    )
    answered = tmp_path / "answered.log"
    server = _fake_endpoint(env, port)
    process = _score(env, tmp_path / "out", "openai")
    try:
        _wait(lambda: len(_lines(answered)) >= 6, process, "6 answers")
    finally:
        server.kill()
        server.wait()
    gone_at = time.monotonic()
    stdout, _ = process.communicate(timeout=600)
    stopped_after = time.monotonic() - gone_at
    first = _lines(answered)
    assert process.returncode == 3, stdout
    assert stopped_after < BUDGET_S + 60, stopped_after
    waiting = _unscored(tmp_path / "out")
    assert waiting > 0
    _, [(kinds,)] = query(
        tmp_path / "out", "select count(*) from item_scores where list_contains(review_kinds, 'judge_unavailable')"
    )
    assert kinds == waiting
    incomplete = [line for line in stdout.splitlines() if "incomplete:" in line]
    assert len(incomplete) == 1 and f"{waiting} item(s) wait for the next run" in incomplete[0], stdout
    assert "judge unavailable" in incomplete[0]
    assert stdout.count("cannot reach") <= 1, stdout  # not one line per item or criterion
    assert "scoring:" in stdout  # progress lines, since stdout is no terminal here
    assert _flow_states(tmp_path)[-1] == ("FAILED", "Incomplete")

    server = _fake_endpoint(env, port)
    try:
        rerun = _score(env, tmp_path / "out", "openai")
        stdout, _ = rerun.communicate(timeout=600)
    finally:
        server.kill()
        server.wait()
    assert rerun.returncode == 0, stdout
    assert _unscored(tmp_path / "out") == 0
    second = _lines(answered)[len(first) :]
    assert 0 < len(second) and not set(second) & set(first)  # only what waited was judged, nothing twice
    assert _flow_states(tmp_path)[-1] == ("COMPLETED", "Completed")


def test_a_second_run_of_the_same_round_is_refused_while_the_first_holds_it(tmp_path: Path) -> None:
    """Issue 13 item 6: the lock is held by another process; the second run exits 4 and writes nothing."""
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pipeline.rounds import round_lock\n"
         "with round_lock(sys.argv[1], 'demo'):\n    print('held', flush=True); time.sleep(600)", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        done = subprocess.run(
            [str(GRADEFLOW), "score", str(DEMO), "--out", str(out), "--judge", "openai"],
            env=_env(tmp_path, GRADEFLOW_JUDGE_BASE_URL="http://127.0.0.1:9/v1", GRADEFLOW_JUDGE_MODEL="stub"),
            cwd=REPO, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"round demo is being scored into {out} by pid {holder.pid}" in done.stderr
    assert not (out / "submissions").exists()
