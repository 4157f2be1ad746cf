"""Scored rounds to review, built without a model: a round directory and the tables real grading wrote.

The rubric, submissions and round.yaml are written as files; ingest, scoring rules, `round_rows` and
`write_partition` are the real ones; only the judge and the code runner are deterministic fakes (unit
boundaries): the judge quotes a phrase of each answer as evidence and flags items for review by a hash
(or all of them).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from pipeline.grading import grade_batch, round_rows
from pipeline.ingest import Item, split_round
from pipeline.judge import ItemJudgment, JudgeCall
from pipeline.reasons import ReviewKind, ReviewReason
from pipeline.rounds import load_round
from pipeline.scoring import CriterionAward
from pipeline.store import write_partition
from rubric_schema import CodeTask, Question, exam_sha

CALL = JudgeCall(sample=0, model="fake-judge", prompt_sha="fake-prompt", rubric_sha="fake-rubric",
                 cache_hit=False, latency_ms=1.0, tokens_in=10, tokens_out=5)
"""The one judge call each fake verdict reports (the judge's own record, as grading reads it)."""
UNSURE = ReviewReason(kind=ReviewKind.LOW_CONFIDENCE, detail="low judge confidence")


def coin(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


class FakeJudge:
    """Full points unless a hash says half; evidence is the start of the answer's first line."""

    def __init__(self, flag_all: bool, explained: bool = True):
        self.flag_all, self.explained = flag_all, explained

    def judge_items(self, pairs: list[tuple[Question, Item]], *, samples: int) -> list[ItemJudgment]:
        verdicts = []
        for question, item in pairs:
            quote = item.text.strip().splitlines()[0][:24] if item.text.strip() and self.explained else ""
            awards = {}
            for c in question.all_criteria():
                half = coin(item.submission_id, c.id) % 3 == 0
                points = round(c.points / 2 / c.step) * c.step if half else c.points
                sure = {f"{points:g}": 0.8, "0": 0.2} if points else {"0": 1.0}  # as the distribution judge keeps it
                rationale = f"fake verdict on {c.id}" if self.explained else ""
                awards[c.id] = CriterionAward(points=points, evidence=quote, evidence_verified=True,
                                              rationale=rationale, expected_points=0.8 * points,
                                              distribution=sure)
            confidence = 0.3 + (coin(item.submission_id, question.id) % 70) / 100
            low = self.flag_all or confidence < 0.5
            verdicts.append(ItemJudgment(submission_id=item.submission_id, question_id=question.id, awards=awards,
                                         confidence=confidence, needs_review=low,
                                         review_reasons=[UNSURE] if low else [], calls=[CALL]))
        return verdicts


class Outcome(BaseModel):
    """One test of a code run: the executor_runs columns."""

    test_id: str
    passed: bool
    candidate_ms: float | None = None
    reference_ms: float | None = None
    speed_ratio: float | None = None
    device: str = "cpu"


@dataclass
class Run:
    """A code run in the shape grading takes from the executor."""

    task_id: str
    status: str
    checks: dict[str, bool]
    reason: str
    tests: list[Outcome]
    callable: str = ""


def fake_execute(task: CodeTask, code: str) -> Run:
    """Every check passes except speed for some answers, with timings, by a hash of the code."""
    fast = coin(code) % 4 != 0
    ratio = 1.0 + coin(code) % 40 / 10
    return Run(task.id, "ok", {"correct": True, "complexity": True, "speed": fast}, "" if fast else "slow",
               [Outcome(test_id=f"trial-{i}", passed=True, candidate_ms=round(4.0 * ratio, 2), reference_ms=4.0,
                        speed_ratio=ratio) for i in range(2)])


def rubric(n_questions: int) -> dict[str, Any]:
    """Questions 1.1 … with two criteria (2 points in halves, 1 point whole); 2.1 has a best-1-of-2 group."""
    questions = [
        {
            "id": f"1.{i}",
            "title": f"question 1.{i}",
            "prompt": f"Explain topic {i}.",
            "points": 3,
            "criteria": [
                {"id": f"q{i}-idea", "title": "the idea", "points": 2, "step": 0.5, "earns_points_for": "the idea"},
                {"id": f"q{i}-cost", "title": "its cost", "points": 1, "step": 1, "earns_points_for": "the cost"},
            ],
        }
        for i in range(1, n_questions)
    ]
    questions.append({
        "id": "2.1",
        "title": "one method of two",
        "prompt": "Give one method.",
        "points": 2,
        "groups": [{
            "id": "methods", "title": "methods", "pick": 1, "cap": 2,
            "alternatives": [
                {"id": "heap", "title": "heap", "criteria": [
                    {"id": "heap-ok", "title": "heap", "points": 2, "step": 1, "earns_points_for": "a heap"}]},
                {"id": "sort", "title": "sort", "criteria": [
                    {"id": "sort-ok", "title": "sort", "points": 2, "step": 1, "earns_points_for": "sorting"}]},
            ],
        }],
    })
    total = sum(q["points"] for q in questions)
    return {"id": "review-exam", "title": "Review exam", "total_points": total,
            "sections": [{"id": "s1", "title": "all", "points": total, "questions": questions}]}


@dataclass(frozen=True)
class ReviewRound:
    """A round directory and the output folder its scored tables are in."""

    round_dir: Path
    out: Path
    round_id: str
    question_ids: list[str]


def build(root: Path, *, submissions: int, questions: int = 4, flag_all: bool = False,
          round_id: str = "rv", explained: bool = True, names: list[str] | None = None) -> ReviewRound:
    """Write and score a round of `submissions` × `questions` items under `root`.

    `explained=False`: scored as `gradeflow score` does by default, without evidence or rationale;
    `names`: the submission files' names (default s00000 …).
    """
    round_dir, out = root / "round", root / "out"
    (round_dir / "submissions").mkdir(parents=True)
    exam = rubric(questions)
    (round_dir / "rubric.yaml").write_text(yaml.safe_dump(exam, sort_keys=False), encoding="utf-8")
    (round_dir / "round.yaml").write_text(f"round_id: {round_id}\nexam: rubric.yaml\n", encoding="utf-8")
    ids = [q["id"] for q in exam["sections"][0]["questions"]]
    for n, name in enumerate(names or [f"s{n:05d}" for n in range(submissions)]):
        body = "\n\n".join(
            f"Q{qid}\nCandidate {n} answers {qid}: a heap keeps the k largest, costing n log k time." for qid in ids
        )
        (round_dir / "submissions" / f"{name}.md").write_text(body + "\n", encoding="utf-8")
    score(round_dir, out, flag_all=flag_all, explained=explained)
    return ReviewRound(round_dir=round_dir, out=out, round_id=round_id, question_ids=ids)


def score(round_dir: Path, out: Path, *, flag_all: bool = False, explained: bool = True) -> int:
    """Score any round directory with the fake judge and executor; returns the number of submissions."""
    rnd = load_round(round_dir)
    subs, rejected = split_round(rnd.submissions_dir, [q.id for q in rnd.exam.questions])
    assert not rejected
    results = grade_batch(rnd.exam, subs, judge=FakeJudge(flag_all, explained), execute=fake_execute)
    for table, rows in round_rows(rnd.config.round_id, exam_sha(rnd.exam), results, subs).items():
        write_partition(out, table, rnd.config.round_id, rows)
    return len(subs)
