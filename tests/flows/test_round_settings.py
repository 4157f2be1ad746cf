"""The caller's settings reach every batch (issue 15 item 3): `run_round(settings=…, exec_settings=…)` are
not re-read from the environment inside the flow, and the thread runner's workers come from the settings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.score_round import round_flow, task_runner
from pipeline.settings import ScoreSettings

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from round_env import round_env  # noqa: E402

REPO = Path(__file__).parents[2]
RUBRIC = REPO / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"

# Runs in a process of its own (Prefect reads its home when imported). score-batch is replaced by a task
# that records what each batch was handed and what the flow's task runner is.
ROUND_WITH_RECORDED_BATCHES = """
import json, sys
from pathlib import Path
from prefect import task
from prefect.context import FlowRunContext
import flows.score_round as score_round
from executors import ExecSettings
from pipeline.settings import ScoreSettings

seen = []

@task(name="score-batch")
def recording_batch(exam, submissions, resources, samples, calibration, settings, judged):
    runner = FlowRunContext.get().task_runner
    seen.append({"size": len(submissions), "samples": samples, "cache_dir": str(settings.cache_dir),
                 "workers": runner._max_workers, "exec_seed": resources.exec_settings.seed,
                 "sandbox_seed": resources.sandboxes._settings.seed})
    return []

score_round.score_batch = recording_batch
settings = ScoreSettings(batch_size=1, samples=3, workers=2, cache_dir=Path(sys.argv[3]))
score_round.run_round(sys.argv[1], sys.argv[2], judge="local", settings=settings,
                      exec_settings=ExecSettings(seed=7))
print(json.dumps(seen))
"""


def test_the_thread_runner_has_the_settings_workers() -> None:
    assert task_runner(ScoreSettings(workers=3))._max_workers == 3
    assert round_flow(ScoreSettings(workers=5)).task_runner._max_workers == 5


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_run_round_hands_every_batch_the_callers_settings_not_the_environments(tmp_path: Path) -> None:
    round_dir = tmp_path / "round"
    (round_dir / "submissions").mkdir(parents=True)
    (round_dir / "round.yaml").write_text(f"round_id: settings\nexam: {RUBRIC}\n")
    for name in ("a", "b", "c"):
        (round_dir / "submissions" / f"{name}.md").write_text("只是一段说明，没有题号。\n", encoding="utf-8")
    env = round_env(
        tmp_path,
        GRADEFLOW_BATCH_SIZE="8",  # what the environment says; the caller's settings must win
        GRADEFLOW_SAMPLES="1",
        GRADEFLOW_WORKERS="4",
        GRADEFLOW_CACHE_DIR=str(tmp_path / "environment-cache"),
        GRADEFLOW_EXEC_SEED="3",
        GRADEFLOW_JUDGE_LOCAL_SERVER_BINARY=str(tmp_path / "no-such-llama-server"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="600",
    )
    caller_cache = tmp_path / "caller-cache"
    done = subprocess.run(
        [sys.executable, "-c", ROUND_WITH_RECORDED_BATCHES, str(round_dir), str(tmp_path / "out"), str(caller_cache)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=800,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    batch = {"size": 1, "samples": 3, "cache_dir": str(caller_cache), "workers": 2, "exec_seed": 7, "sandbox_seed": 7}
    assert seen == [batch] * 3
