"""The scheduled flow (`gradeflow serve`) with a judge that is gone: the round stays due, the run says so.

The flow runs in a process of its own, as a scheduled run does: Prefect reads its settings (home, the
temporary server's start-up timeout) when it is imported, so an environment set inside pytest comes too late.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.serve import FINGERPRINT
from pipeline.judge._local import free_port
from pipeline.store import query

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from round_env import round_env  # noqa: E402

RUBRIC = Path(__file__).parents[2] / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

RUN_ONCE = """
import json, sys
from flows.serve import score_new_rounds
state = score_new_rounds(sys.argv[1], sys.argv[2], judge="openai", return_state=True)
print(json.dumps([state.type.value, state.name, state.message]))
"""


def test_an_incomplete_round_keeps_its_fingerprint_unset_and_the_run_ends_incomplete(tmp_path):
    round_dir = tmp_path / "rounds" / "r1"
    (round_dir / "submissions").mkdir(parents=True)
    (round_dir / "round.yaml").write_text(f"round_id: r1\nexam: {RUBRIC}\n")
    (round_dir / "submissions" / "a.md").write_text("## 2.1\n用哈希表记录每个元素出现的次数，再遍历一次。\n")
    env = round_env(
        tmp_path,
        GRADEFLOW_JUDGE_BASE_URL=f"http://127.0.0.1:{free_port()}/v1",  # nobody listens
        GRADEFLOW_JUDGE_MODEL="stub",
        GRADEFLOW_JUDGE_OUTAGE_BUDGET_S="1",
        GRADEFLOW_JUDGE_MAX_RETRIES="0",
        GRADEFLOW_JUDGE_CACHE_DIR=str(tmp_path / "judge"),
        GRADEFLOW_CACHE_DIR=str(tmp_path / "cache"),
    )
    run = subprocess.run(
        [sys.executable, "-c", RUN_ONCE, str(tmp_path / "rounds"), str(tmp_path / "out")],
        env=env, cwd=RUBRIC.parents[2], capture_output=True, text=True, timeout=500,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    kind, name, message = json.loads(run.stdout.strip().splitlines()[-1])
    assert (kind, name) == ("FAILED", "Incomplete")
    assert "round r1 incomplete: " in message and "item(s) wait for the next run" in message
    assert not (tmp_path / "out" / "r1" / FINGERPRINT).exists()  # the next tick scores it again
    _, [(status,)] = query(tmp_path / "out" / "r1", "select status from submissions")
    assert status == "incomplete"
