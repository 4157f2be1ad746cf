"""The scheduled flow (`gradeflow serve`) with a judge that is gone: the round stays due, the run says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.serve import FINGERPRINT, score_new_rounds
from pipeline.judge._local import free_port
from pipeline.store import query

RUBRIC = Path(__file__).parents[2] / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_an_incomplete_round_keeps_its_fingerprint_unset_and_the_run_ends_incomplete(tmp_path, monkeypatch):
    round_dir = tmp_path / "rounds" / "r1"
    (round_dir / "submissions").mkdir(parents=True)
    (round_dir / "round.yaml").write_text(f"round_id: r1\nexam: {RUBRIC}\n")
    (round_dir / "submissions" / "a.md").write_text("## 2.1\n用哈希表记录每个元素出现的次数，再遍历一次。\n")
    for key, value in {
        "GRADEFLOW_JUDGE_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # nobody listens
        "GRADEFLOW_JUDGE_MODEL": "stub",
        "GRADEFLOW_JUDGE_OUTAGE_BUDGET_S": "1",
        "GRADEFLOW_JUDGE_MAX_RETRIES": "0",
        "GRADEFLOW_JUDGE_CACHE_DIR": str(tmp_path / "judge"),
        "GRADEFLOW_CACHE_DIR": str(tmp_path / "cache"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(key, value)
    state = score_new_rounds(str(tmp_path / "rounds"), str(tmp_path / "out"), judge="openai", return_state=True)
    assert (state.type.value, state.name) == ("FAILED", "Incomplete")
    assert "round r1 incomplete: " in state.message and "item(s) wait for the next run" in state.message
    assert not (tmp_path / "out" / "r1" / FINGERPRINT).exists()  # the next tick scores it again
    _, [(status,)] = query(tmp_path / "out" / "r1", "select status from submissions")
    assert status == "incomplete"
