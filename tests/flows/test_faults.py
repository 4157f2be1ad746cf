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

from pipeline.store import query, read_table, write_partition

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from round_env import FAKE_LLAMA_SERVER, fake_embedded_judge  # noqa: E402

REPO = Path(__file__).parents[2]
DEMO = REPO / "eval_sets" / "ai-engineer-mid" / "rounds" / "demo"
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
    env = _env(tmp_path, **fake_embedded_judge(tmp_path))
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
    command = [sys.executable, str(FAKE_LLAMA_SERVER), "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
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
    assert f"round demo is being written into {out} by pid {holder.pid}" in done.stderr
    assert not (out / "submissions").exists()


def test_a_re_score_with_fewer_files_is_refused_and_one_with_none_never_wipes_the_round(tmp_path: Path) -> None:
    """Issue 21 item 4: exit 5 before judging, the tables as they were; --allow-shrink never lets 0 files in."""
    out, empty = tmp_path / "out", tmp_path / "moved"
    earlier = [*sorted((DEMO / "submissions").iterdir()), DEMO / "submissions" / "cand-01-strong.md"]
    write_partition(out, "submissions", "demo", [
        {"round_id": "demo", "submission_id": p.stem, "source_file": str(p), "status": "scored"} for p in earlier
    ])  # fmt: skip
    (empty / "submissions" / "batch2").mkdir(parents=True)  # the files moved into a subfolder
    (empty / "round.yaml").write_text(f"round_id: demo\nexam: {DEMO.parents[1] / 'rubric.yaml'}\n", encoding="utf-8")
    env = _env(tmp_path, GRADEFLOW_JUDGE_BASE_URL="http://127.0.0.1:9/v1", GRADEFLOW_JUDGE_MODEL="stub")
    runs = {
        name: subprocess.run(
            [str(GRADEFLOW), "score", str(round_dir), "--out", str(out), "--judge", "openai", *flags],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        for name, round_dir, flags in (("fewer", DEMO, []), ("none", empty, ["--allow-shrink"]))
    }
    for name, done in runs.items():
        assert done.returncode == 5, (name, done.stdout + done.stderr)
        assert read_table(out, "submissions").num_rows == len(earlier), name
    assert "1 of the 6 submission file(s) scored last time are not in" in runs["fewer"].stderr
    assert "(gone: cand-01-strong.md)" in runs["fewer"].stderr and "--allow-shrink" in runs["fewer"].stderr
    assert "no submission files in" in runs["none"].stderr and "never replaces them" in runs["none"].stderr
    assert not (out / "item_scores").exists()  # nothing judged or written


PAUSED = """
import os, sys, time
from pathlib import Path
import flows.score_round as flow
marker, point = Path(os.environ["PAUSE_MARKER"]), os.environ["PAUSE_AT"]
if point == "write-tables":  # after the second of the round's tables, in the write-tables task
    written, write = [], flow.write_partition
    def paused(*args, **kwargs):
        written.append(write(*args, **kwargs))
        if len(written) == 2:
            marker.write_text(point)
            time.sleep(600)
        return written[-1]
    flow.write_partition = paused
else:  # the tables are written, the reapply-reviews task starts its export
    def paused(*args, **kwargs):
        marker.write_text(point)
        time.sleep(600)
    flow.export = paused
from gradeflow_cli import main
sys.argv = ["gradeflow", *sys.argv[1:]]
main()
"""

FINALS = {"item_scores": ("final_points", "decided_by"), "submissions": ("final_total", "decided_by")}


def _finals(out: Path) -> dict[str, dict[tuple, tuple]]:
    """Per table, each row's key → its final points and who decided them; human_reviews as rows."""
    tables: dict[str, dict[tuple, tuple]] = {}
    for table, columns in FINALS.items():
        key = ("submission_id", "question_id") if table == "item_scores" else ("submission_id",)
        tables[table] = {tuple(r[k] for k in key): tuple(r[c] for c in columns)
                         for r in read_table(out, table).to_pylist()}
    tables["human_reviews"] = {(r["form_id"], r["criterion_id"]): (r["points"], r["current"], r["stale"])
                               for r in read_table(out, "human_reviews").to_pylist()}
    return tables


def test_kill_9_inside_write_tables_and_before_reapply_reviews_then_a_rerun_loses_nothing(tmp_path: Path) -> None:
    """Issue 21: a reviewed round re-scored and killed -9 (real processes) in the middle of write-tables,
    then again after them with the reviews not yet reapplied: every table stays whole and readable, and the
    next run restores item_scores, submissions and human_reviews exactly, the reviewer's decision included.
    """
    from pipeline.judge._local import free_port
    from pipeline.review import NewGrade, ReviewStore, RoundView, export

    port, out = free_port(), tmp_path / "out"
    env = _env(tmp_path, GRADEFLOW_JUDGE_BASE_URL=f"http://127.0.0.1:{port}/v1", GRADEFLOW_JUDGE_MODEL="stub")
    server = _fake_endpoint(env, port)
    try:
        first = _score(env, out, "openai")
        stdout, _ = first.communicate(timeout=600)
        assert first.returncode == 0, stdout
        view, store = RoundView(out, DEMO), ReviewStore(out / "reviews.sqlite")
        key = next(k for k, item in sorted(view.items.items()) if item.kind != "missing" and item.max_points > 1)
        question = view.exam.question(key[1])
        store.add_form(form_id="f1", round_id="demo", item=key, reviewer="alice", comment="", mode="review",
                       grades=[NewGrade(c.id, 0.0) for c in question.all_criteria()],
                       answer_sha=view.items[key].answer_sha, question_sha=view.question_shas[key[1]],
                       expected_version=0)  # fmt: skip
        export(view, store)
        reviewed = _finals(out)
        assert reviewed["item_scores"][key] == (0.0, "human:alice")
        rows = {table: len(found) for table, found in reviewed.items()}

        for point in ("write-tables", "reapply-reviews"):
            marker = tmp_path / f"paused-{point}"
            killed = subprocess.Popen(
                [sys.executable, "-c", PAUSED, "score", str(DEMO), "--out", str(out), "--judge", "openai"],
                env=env | {"PAUSE_MARKER": str(marker), "PAUSE_AT": point}, cwd=REPO, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, start_new_session=True,
            )  # fmt: skip
            _wait(marker.exists, killed, f"the pause in {point}")
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait()
            after_kill = _finals(out)
            assert {table: len(found) for table, found in after_kill.items()} == rows, point  # whole tables
            assert after_kill["human_reviews"] == reviewed["human_reviews"], point
            if point == "reapply-reviews":  # scoring's tables are in, the decision waits for the next run
                assert after_kill["item_scores"][key] != reviewed["item_scores"][key]

        rerun = _score(env, out, "openai")
        stdout, _ = rerun.communicate(timeout=600)
    finally:
        server.kill()
        server.wait()
    assert rerun.returncode == 0, stdout
    assert _finals(out) == reviewed
