"""`gradeflow explain` on the real embedded llama-server: a round scored without explanations (the default)
gets the head of its review queue explained into reviews.sqlite, found through the round record scoring
leaves in ROUND_OUT (no --round-dir).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradeflow_cli import app
from pipeline.judge import JudgeSettings
from pipeline.review import STORE_FILE, record_round_source

sys.path.insert(0, str(Path(__file__).parents[1] / "review"))
from review_rounds import build  # noqa: E402

MODELS = sorted(JudgeSettings().local_model_dir.glob("*.gguf"))

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not MODELS, reason="the embedded model is not in the cache (make setup fetches it)"),
]


def test_explain_stores_a_verified_quote_or_a_rationale_for_the_queue_head(tmp_path, monkeypatch):
    for name in ("GRADEFLOW_JUDGE_BASE_URL", "GRADEFLOW_JUDGE_API_KEY", "OPENAI_API_KEY", "GRADEFLOW_JUDGE_MODEL",
                 "GRADEFLOW_JUDGE_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADEFLOW_JUDGE_CACHE_DIR", str(tmp_path / "judge-cache"))
    monkeypatch.setenv("GRADEFLOW_JUDGE_SCREEN_MEANING", "false")
    rnd = build(tmp_path, submissions=1, questions=2, flag_all=True, explained=False)
    record_round_source(rnd.out, rnd.round_dir, rnd.round_id)
    result = CliRunner().invoke(app, ["explain", str(rnd.out), "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "[1/1]" in result.output and "1 items of the review queue, 1 explained" in result.output
    rows = sqlite3.connect(rnd.out / STORE_FILE).execute(
        "SELECT criterion_id, evidence, evidence_verified, rationale FROM explanations").fetchall()
    assert rows and any((verified and evidence) or rationale.strip() for _, evidence, verified, rationale in rows)
    again = CliRunner().invoke(app, ["explain", str(rnd.out), "--limit", "1"])
    assert again.exit_code == 0 and "1 already explained" in again.output  # from the store, no model call
