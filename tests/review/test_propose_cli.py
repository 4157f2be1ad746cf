"""`gradeflow review propose`: the JSON contract outside checks call, K per question, graded items skipped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from gradeflow_cli import app
from pipeline.store import write_partition


def _round_out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    rows = [
        {"round_id": "r1", "submission_id": f"s{i:02d}", "question_id": q, "kind": "text", "max_points": 10.0,
         "raw_points": float(i % 10), "expected_points": float(i % 10) + 0.3}
        for q in ("1.1", "2.1") for i in range(12)
    ]  # fmt: skip
    rows[0]["raw_points"] = None  # unjudged
    rows[1]["kind"] = "missing"
    write_partition(out, "item_scores", "r1", rows)
    review = {"round_id": "r1", "submission_id": "s02", "question_id": "1.1", "criterion_id": "c",
              "reviewer": "alice", "points": 3.0, "item_points": 3.0, "mode": "blind",
              "graded_at": datetime.now(UTC), "current": True, "stale": False}  # fmt: skip
    write_partition(out, "human_reviews", "r1", [review])
    return out


def test_propose_json_lists_k_per_question_and_skips_graded_unjudged_and_missing(tmp_path: Path) -> None:
    out = _round_out(tmp_path)
    result = CliRunner().invoke(app, ["review", "propose", str(out), "--per-question", "3", "--json"])
    assert result.exit_code == 0, result.output
    proposed = json.loads(result.stdout)
    assert all(set(entry) == {"submission_id", "question_id"} for entry in proposed)
    assert sorted(e["question_id"] for e in proposed) == ["1.1"] * 3 + ["2.1"] * 3
    first = {e["submission_id"] for e in proposed if e["question_id"] == "1.1"}
    assert not first & {"s00", "s01", "s02"}
    again = CliRunner().invoke(app, ["review", "propose", str(out), "--per-question", "3", "--json"])
    assert json.loads(again.stdout) == proposed


def test_propose_without_round_dir_says_it_spreads_over_expected_points_alone(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["review", "propose", str(_round_out(tmp_path)), "--per-question", "2"])
    assert result.exit_code == 0, result.output
    assert "expected points alone" in result.output and result.output.count("judge ") == 4
