"""Every ```sql block of docs/QUERIES.md runs as written via `gradeflow query` and returns what it says."""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradeflow_cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "QUERIES.md"
# The grade sheet query 4 names, relative to the folder gradeflow runs in.
GRADES = Path("eval_sets/ai-engineer-mid/rounds/panel/human_grades.csv")


def _blocks() -> dict[str, str]:
    """Return the page's sql blocks keyed by the title of the section they sit in."""
    blocks: dict[str, str] = {}
    for section in re.split(r"^## ", DOC.read_text(encoding="utf-8"), flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        for sql in re.findall(r"```sql\n(.*?)```", section, re.S):
            blocks[title] = sql
    return blocks


BLOCKS = _blocks()


def _run(sql: str, data: Path) -> list[dict]:
    result = CliRunner().invoke(app, ["query", sql, "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_page_has_the_five_example_queries():
    assert list(BLOCKS) == [
        "1. Question difficulty", "2. Criterion hit rates", "3. Candidates near the pass mark",
        "4. Judge–human disagreement", "5. The review queue",
    ]
    assert str(GRADES) in BLOCKS["4. Judge–human disagreement"]


def test_question_difficulty(scored_round):
    rows = _run(BLOCKS["1. Question difficulty"], scored_round.out)
    fractions = defaultdict(list)
    for item in scored_round.rows["item_scores"]:
        if item["raw_points"] is not None:
            fractions[item["question_id"]].append(item["raw_points"] / item["max_points"])
    assert len(rows) == 18
    assert [r["mean_fraction"] for r in rows] == sorted(r["mean_fraction"] for r in rows)
    for row in rows:
        assert row["mean_fraction"] == pytest.approx(statistics.mean(fractions[row["question_id"]]), abs=5e-4)
    by_id = {r["question_id"]: r for r in rows}
    assert (by_id["3.2"]["n"], by_id["3.2"]["n_unscored"]) == (5, 1)
    assert (by_id["9.1"]["n_missing"], by_id["9.1"]["max_points"]) == (1, 6.0)


def test_criterion_hit_rates(scored_round):
    rows = _run(BLOCKS["2. Criterion hit rates"], scored_round.out)
    points = defaultdict(list)
    for row in scored_round.rows["criterion_scores"]:
        if row["source"] != "rule":
            points[row["criterion_id"]].append(row["points"])
    assert [r["criterion_id"] for r in rows][:2] == ["1.1-c1", "1.1-c2"]
    assert rows[-1]["question_id"] == "10.1"
    assert {r["criterion_id"] for r in rows} == set(points)
    for row in rows:
        scored = [p for p in points[row["criterion_id"]] if p is not None]
        assert row["n_scored"] == len(scored)
        assert row["hit_rate"] == pytest.approx(sum(p > 0 for p in scored) / len(scored), abs=5e-4)


def test_candidates_near_the_pass_mark(scored_round):
    rows = _run(BLOCKS["3. Candidates near the pass mark"], scored_round.out)
    expected = {s["submission_id"] for s in scored_round.rows["submissions"]
                if s["raw_total"] is not None and abs(s["raw_total"] - 60) <= 5}
    assert {r["submission_id"] for r in rows} == expected
    assert 0 < len(expected) < 6, "the fixture should put some candidates near 60 and some far from it"
    assert [abs(r["above_pass"]) for r in rows] == sorted(abs(r["above_pass"]) for r in rows)


def test_judge_human_disagreement(scored_round, tmp_path, monkeypatch):
    items = {(i["submission_id"], i["question_id"]): i for i in scored_round.rows["item_scores"]}
    weak = next(i for i in scored_round.rows["item_scores"] if i["submission_id"] == "s03"
                and i["kind"] == "text" and i["raw_points"] <= 0.5 * i["max_points"])
    monkeypatch.chdir(tmp_path)
    GRADES.parent.mkdir(parents=True)
    with GRADES.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission_id", "question_id", "criterion_id", "grader", "points"])
        # s01/2.1: two graders with per-criterion rows: 5 and 3, average 4 -> far below the judge
        writer.writerows([["s01", "2.1", "2.1-c1", "g1", 3], ["s01", "2.1", "2.1-c2", "g1", 2],
                          ["s01", "2.1", "2.1-c1", "g2", 2], ["s01", "2.1", "2.1-c2", "g2", 1]])
        # s02/10.1: humans agree with the judge exactly -> not listed
        writer.writerow(["s02", "10.1", "holistic", "g1", items[("s02", "10.1")]["raw_points"]])
        # s04/9.1 was not answered (0 points); a human gave 6 -> listed with -6
        writer.writerow(["s04", "9.1", "holistic", "g1", 6])
        # a grader marking every alternative sums to 1.5 x max: capped at the max
        max_points = weak["max_points"]
        key = (weak["submission_id"], weak["question_id"])
        writer.writerows([[*key, criterion, "g1", max_points * 0.75] for criterion in ("a", "b")])
    rows = {(r["submission_id"], r["question_id"]): r for r in _run(BLOCKS["4. Judge–human disagreement"],
                                                                      scored_round.out)}
    assert set(rows) == {("s01", "2.1"), ("s04", "9.1"), key}
    judge = items[("s01", "2.1")]["raw_points"]
    assert judge - 4 >= 2, "the fixture's strong candidate should score high on 2.1"
    assert rows[("s01", "2.1")]["human_points"] == 4.0 and rows[("s01", "2.1")]["n_graders"] == 2
    assert rows[("s01", "2.1")]["judge_minus_human"] == pytest.approx(judge - 4)
    assert rows[("s04", "9.1")]["judge_minus_human"] == -6.0
    assert rows[key]["human_points"] == max_points
    assert rows[key]["judge_minus_human"] == pytest.approx(weak["raw_points"] - max_points)
    gaps = [abs(r["judge_minus_human"]) for r in rows.values()]
    assert gaps == sorted(gaps, reverse=True)


def test_judge_human_disagreement_without_the_csv_fails_cleanly(scored_round, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sql = BLOCKS["4. Judge–human disagreement"]
    result = CliRunner().invoke(app, ["query", sql, "--data", str(scored_round.out)])
    assert result.exit_code == 1 and "human_grades.csv" in result.stderr


def test_review_queue(scored_round):
    rows = _run(BLOCKS["5. The review queue"], scored_round.out)
    flagged = [i for i in scored_round.rows["item_scores"] if i["needs_review"]]
    assert len(rows) == len(flagged)
    assert (rows[0]["submission_id"], rows[0]["injection_suspected"]) == ("s05", True)
    assert (rows[1]["submission_id"], rows[1]["question_id"], rows[1]["raw_points"]) == ("s06", "3.2", None)
    assert [r["confidence"] for r in rows[2:]] == sorted(r["confidence"] for r in rows[2:])
    assert all(r["review_reason"] for r in rows)
