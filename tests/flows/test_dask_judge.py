"""Dask workers that each judge on their own embedded judge (GRADEFLOW_DASK_JUDGE=per-worker, issue 19 item 7).

The unit test puts a fake at the judge boundary (the opener a WorkerJudge enters) on an in-process cluster of
two workers and counts what each opens. The round test scores the demo round on a real local cluster of two
worker processes, each starting its own "llama-server" (tests/support/fake_llama_server.py behind a wrapper
that logs which process started it), and checks its tables equal the threads' run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

from executors import ExecSettings
from flows.dask_judge import WorkerJudge, worker_backend, worker_judges
from flows.score_round import RoundResources
from pipeline.judge import JudgeSettings
from pipeline.store import read_table

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from round_env import fake_embedded_judge, round_env  # noqa: E402

REPO = Path(__file__).parents[2]
DEMO = REPO / "eval_sets" / "ai-engineer-mid" / "rounds" / "demo"
SCORE_TABLES = ("submissions", "item_scores", "criterion_scores", "executor_runs")

EVENTS: list[tuple[str, str]] = []
"""(event, worker address) for every fake judge opened or closed; the workers of an in-process cluster
share this module."""
EVENTS_LOCK = threading.Lock()


class FakeBackend:
    def __init__(self, worker: str):
        self.worker = worker


@contextmanager
def fake_opener(settings: JudgeSettings) -> Iterator[FakeBackend]:
    from distributed import get_worker

    address = get_worker().address
    with EVENTS_LOCK:
        EVENTS.append(("open", address))
    time.sleep(0.05)  # a slow start: a second batch on the same worker meanwhile must wait, not open another
    try:
        yield FakeBackend(address)
    finally:
        with EVENTS_LOCK:
            EVENTS.append(("close", address))


def _judge_on_worker(resources: RoundResources) -> tuple[str, int]:
    from distributed import get_worker

    backend = resources.backend()
    assert isinstance(backend, FakeBackend) and backend.worker == get_worker().address
    time.sleep(0.02)
    return backend.worker, id(backend)


def test_each_worker_opens_its_own_judge_once_and_closes_it_when_the_round_ends() -> None:
    from distributed import Client, LocalCluster

    EVENTS.clear()
    settings = JudgeSettings(base_url=None, provider=None)
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            workers = sorted(client.scheduler_info()["workers"])
            with worker_judges(client, settings, opener=fake_opener) as name:
                assert EVENTS == []  # attached, not opened: a worker opens its judge on its first batch
                resources = RoundResources(settings, ExecSettings(), worker_judge=name)
                futures = [
                    client.submit(_judge_on_worker, resources, pure=False, workers=[workers[i % 2]])
                    for i in range(8)
                ]
                results = client.gather(futures)
                assert sorted({worker for worker, _ in results}) == workers
                assert len({backend for _, backend in results}) == 2  # one backend per worker, reused
                assert sorted(EVENTS) == sorted(("open", w) for w in workers)
            assert sorted(EVENTS) == sorted([("open", w) for w in workers] + [("close", w) for w in workers])


def test_a_worker_judge_travels_without_its_opened_backend() -> None:
    """Each worker unpickles a fresh copy: nothing opened in one process is handed to another."""
    import pickle

    plugin = WorkerJudge(JudgeSettings(base_url=None, provider=None), opener=fake_opener)
    plugin._backend = FakeBackend("tcp://elsewhere")
    copy = pickle.loads(pickle.dumps(plugin))
    assert copy._backend is None and copy.opener is fake_opener and copy.settings == plugin.settings


def test_a_configured_endpoint_serves_every_worker_even_in_per_worker_mode() -> None:
    """GRADEFLOW_JUDGE_BASE_URL (e.g. a vLLM server) wins: no judge is attached to the workers."""
    from flows.progress import RoundProgress
    from flows.score_round import open_round_resources

    settings = JudgeSettings(base_url="http://judge.example:8000/v1", model="m", provider=None)
    never = object()  # a client that registering a plugin on would fail
    with open_round_resources(
        settings, RoundProgress(), exec_settings=ExecSettings(), in_process=False, per_worker=never
    ) as resources:
        assert resources.worker_judge is None and resources.backend() is None
        assert resources.judge_settings.base_url == "http://judge.example:8000/v1"


def test_a_batch_outside_a_worker_has_no_worker_judge() -> None:
    with pytest.raises(ValueError, match="No worker"):
        worker_backend("gradeflow-judge-none")


# Runs in a process of its own (Prefect reads its home when imported): the demo round on threads, then on a
# local cluster of 2 worker processes with a judge per worker, each with a judge cache of its own.
ROUND_ON_THREADS_THEN_PER_WORKER = """
import json, os, sys
from pathlib import Path
from flows.score_round import run_round
from pipeline.settings import ScoreSettings

tmp = Path(sys.argv[2])
os.environ["GRADEFLOW_JUDGE_CACHE_DIR"] = str(tmp / "judge-threads")
run_round(sys.argv[1], tmp / "threads", judge="local", settings=ScoreSettings(batch_size=1, workers=2,
          cache_dir=tmp / "cache"))
threads_starts = (tmp / "starters.log").read_text().split()
os.environ["GRADEFLOW_JUDGE_CACHE_DIR"] = str(tmp / "judge-dask")
dask = ScoreSettings(batch_size=1, workers=2, cache_dir=tmp / "cache", task_runner="dask", dask_judge="per-worker")
summary = run_round(sys.argv[1], tmp / "dask", judge="local", settings=dask)
print(json.dumps({"flow": os.getpid(), "threads_starts": threads_starts, "complete": summary.complete}))
"""


def _sorted(table: pa.Table) -> list[dict]:
    rows = table.drop_columns([c for c in ("scored_at",) if c in table.column_names]).to_pylist()
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_a_round_with_a_judge_per_worker_on_two_worker_processes_equals_the_threads_run(tmp_path: Path) -> None:
    starters = tmp_path / "starters.log"
    env = round_env(
        tmp_path,
        **fake_embedded_judge(tmp_path, starters=starters),
        GRADEFLOW_JUDGE_MODE="item",  # the fake has no tokenizer for the one-token distributions
        FAKE_LLAMA_LOAD_S="0.1",
    )
    env = {k: v for k, v in env.items() if not k.startswith("FAKE_LLAMA_") or k == "FAKE_LLAMA_LOAD_S"}
    done = subprocess.run(
        [sys.executable, "-c", ROUND_ON_THREADS_THEN_PER_WORKER, str(DEMO), str(tmp_path)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=800,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["complete"]
    assert seen["threads_starts"] == [str(seen["flow"])]  # threads: one server, started by the flow's process
    per_worker = starters.read_text().split()[1:]
    # each worker process that judged started its own server, once; the flow's process started none
    assert 1 <= len(per_worker) == len(set(per_worker)) <= 2 and str(seen["flow"]) not in per_worker
    for table in SCORE_TABLES:
        assert _sorted(read_table(tmp_path / "dask", table)) == _sorted(read_table(tmp_path / "threads", table)), table
