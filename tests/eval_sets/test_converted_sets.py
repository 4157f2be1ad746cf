"""The converted eval sets: rubric valid, every answer one item, grades joined and on the rubric's scale."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from pipeline.ingest import split_file
from rubric_schema import load_exam

ROOT = Path(__file__).resolve().parents[2]
EVAL_SETS = ROOT / "eval_sets"
SOURCES = ROOT.parent / "shared" / "datasets"
SETS = {"mohler-cs-2011": ("g1", "g2"), "ads-zh": ("g1",)}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module", params=sorted(SETS))
def eval_set(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, EVAL_SETS / request.param


def test_every_answer_is_one_item_of_a_rubric_question(eval_set: tuple[str, Path]) -> None:
    name, folder = eval_set
    exam = load_exam(folder / "rubric.yaml")
    assert exam.id == name
    question_ids = [q.id for q in exam.questions]
    submissions = split_file(folder / "submissions" / "answers.jsonl", question_ids)
    for submission in submissions:
        assert not submission.unmatched_text, submission.submission_id
        assert len(submission.items) + len(submission.missing) == len(question_ids)
    answered = [s for s in submissions if s.items]
    assert all(len(s.items) == 1 for s in answered)
    # Only the source's empty answers are missing (ads-zh has five, listed in its README).
    assert len(submissions) - len(answered) == {"mohler-cs-2011": 0, "ads-zh": 5}[name]


def test_each_question_has_one_holistic_criterion_with_the_reference(eval_set: tuple[str, Path]) -> None:
    _, folder = eval_set
    for question in load_exam(folder / "rubric.yaml").questions:
        (criterion,) = question.criteria
        assert criterion.id == "holistic"
        assert criterion.points == question.points
        assert criterion.reference.strip()


def test_human_grades_cover_every_answer_once_per_grader_on_the_rubric_scale(
    eval_set: tuple[str, Path],
) -> None:
    name, folder = eval_set
    questions = {q.id: q for q in load_exam(folder / "rubric.yaml").questions}
    lines = (folder / "submissions" / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    answers = {(r["submission_id"], qid) for r in map(json.loads, lines) for qid in r["answers"]}
    graders: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in _rows(folder / "human_grades.csv"):
        criterion = questions[row["question_id"]].criterion(row["criterion_id"])
        points = float(row["points"])
        assert 0 <= points <= criterion.points, row
        assert math.isclose(points / 0.5, round(points / 0.5)), row
        graders[(row["submission_id"], row["question_id"])].append(row["grader"])
    assert set(graders) == answers
    assert all(sorted(g) == list(SETS[name]) for g in graders.values())


def test_split_is_a_stratified_half_with_a_question_balanced_rank(eval_set: tuple[str, Path]) -> None:
    _, folder = eval_set
    split = _rows(folder / "split.csv")
    grades = {(r["submission_id"], r["question_id"]) for r in _rows(folder / "human_grades.csv")}
    assert {(r["submission_id"], r["question_id"]) for r in split} == grades
    assert len(split) == len(grades)
    per_question = Counter((r["question_id"], r["split"]) for r in split)
    for question_id in {r["question_id"] for r in split}:
        dev, test = per_question[(question_id, "dev")], per_question[(question_id, "test")]
        assert dev > 0 and test > 0 and abs(dev - test) <= 1
    dev_rows = sorted((int(r["rank"]), r["question_id"]) for r in split if r["split"] == "dev")
    assert [rank for rank, _ in dev_rows] == list(range(len(dev_rows)))
    n_questions = len({q for _, q in dev_rows})
    assert len({q for _, q in dev_rows[:n_questions]}) == n_questions


def test_licence_and_citation_are_kept() -> None:
    assert "Apache License" in (EVAL_SETS / "ads-zh" / "LICENSE").read_text(encoding="utf-8")
    assert "aleversn/SAS-Datasets" in (EVAL_SETS / "ads-zh" / "README.md").read_text(encoding="utf-8")
    readme = (EVAL_SETS / "mohler-cs-2011" / "README.md").read_text(encoding="utf-8")
    assert "Mohler" in readme and "Bunescu" in readme and "Mihalcea" in readme and "2011" in readme


@pytest.mark.skipif(
    not (SOURCES / "mohler-cs-2011" / "answers.jsonl").exists(), reason="source datasets absent"
)
def test_the_script_reproduces_the_committed_files(tmp_path: Path) -> None:
    script = EVAL_SETS / "convert_datasets.py"
    subprocess.run(
        [sys.executable, str(script), "--datasets", str(SOURCES), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in SETS:
        produced = sorted(p for p in (tmp_path / name).rglob("*") if p.is_file())
        assert len(produced) >= 4
        for path in produced:
            committed = EVAL_SETS / name / path.relative_to(tmp_path / name)
            assert path.read_bytes() == committed.read_bytes(), committed
