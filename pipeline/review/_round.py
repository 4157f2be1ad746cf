"""A scored round as the station shows it, loaded once: items, the judge's criterion rows, code runs, answers.

Everything a page needs is held in memory by item key, so an item page costs a dict lookup and one small
SQLite query, whatever the size of the round.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from pipeline.files import write_atomic
from pipeline.review._store import ItemKey
from pipeline.rounds import load_round
from pipeline.store import StoreError, read_items, read_partition, read_table
from rubric_schema import Criterion, Exam, Question, natural_key, question_sha

MODES = ("review", "blind")
"""review: the flagged items with the judge's points shown; blind: every judged item, the judge hidden."""


ROUND_SOURCE_FILE = ".gradeflow-round.json"
"""Written into a round's output folder by scoring: where its answers and rubric are (the tables hold neither)."""


class ReviewError(Exception):
    """A round the station cannot open; the message names the folder and what is missing."""


@dataclass(frozen=True)
class RoundSource:
    """The round directory and round id a round output folder was scored from."""

    round_dir: Path
    round_id: str


def record_round_source(out_dir: str | Path, round_dir: str | Path, round_id: str) -> Path:
    """Note in OUT where the round came from, so `gradeflow review` and `gradeflow explain` need no --round-dir.

    Replaced with one rename: a reader sees the old record or the new one, never half a file.
    """
    record = json.dumps({"round_dir": str(Path(round_dir).resolve()), "round_id": round_id}) + "\n"
    return write_atomic(Path(out_dir) / ROUND_SOURCE_FILE, record)


def read_round_source(out_dir: str | Path) -> RoundSource | None:
    """The round OUT was scored from; None when scoring left no record (an older output folder)."""
    path = Path(out_dir) / ROUND_SOURCE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RoundSource(round_dir=Path(data["round_dir"]), round_id=str(data["round_id"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ReviewError(f"{path}: not a round record ({error}); pass --round-dir") from None


@dataclass(frozen=True)
class JudgeCriterion:
    """What the judge (or a code check) gave one criterion of one item."""

    points: float | None
    evidence: str
    evidence_verified: bool
    rationale: str
    source: str
    expected_points: float | None = None
    """The distribution judge's unsnapped expected points (None for a generated verdict or a code check)."""
    p_max: float | None = None
    """The probability of the judge's likeliest grade: how sure it was of this criterion."""


@dataclass(frozen=True)
class CodeRun:
    """One test of a code task run on the item's code."""

    task_id: str
    test_id: str
    status: str
    passed: bool | None
    candidate_ms: float | None
    reference_ms: float | None
    speed_ratio: float | None
    error: str


@dataclass(frozen=True)
class ItemView:
    """One item of the round with the judge's verdict and the candidate's answer."""

    submission_id: str
    question_id: str
    kind: str
    max_points: float
    raw_points: float | None
    calibrated_points: float | None
    expected_error: float | None
    confidence: float | None
    needs_review: bool
    reasons: tuple[str, ...]
    injection_suspected: bool
    answer: str
    answer_sha: str
    double: bool
    """In the double-grading sample: two reviewers grade it."""
    order: int
    """Position in a deterministic shuffle of the round (the blind queue's order: an unbiased sample)."""
    judge: dict[str, JudgeCriterion] = field(default_factory=dict)
    runs: tuple[CodeRun, ...] = ()

    @property
    def key(self) -> ItemKey:
        return (self.submission_id, self.question_id)

    @property
    def capacity(self) -> int:
        """How many reviewers grade it."""
        return 2 if self.double else 1


def allowed_values(criterion: Criterion) -> tuple[float, ...]:
    """The points a reviewer may give: multiples of the step (per-mention: of the points per mention), and the max."""
    step = criterion.per_mention.points_each if criterion.per_mention else criterion.step
    count = int(math.floor(criterion.points / step + 1e-9))
    values = [round(i * step, 4) for i in range(count + 1)]
    if not math.isclose(values[-1], criterion.points, abs_tol=1e-6):
        values.append(criterion.points)
    return tuple(values)


def _hash_share(*parts: str) -> float:
    return int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:12], 16) / 16**12


def scored_at(round_out: Path, round_id: str) -> object:
    """When the round's tables were last scored: a re-score changes it, an export of grades never does."""
    column = read_partition(round_out, "submissions", round_id).column("scored_at")
    return pc.max(column).as_py() if len(column) else None


class RoundView:
    """One round of a round output folder, with the rubric and answers of its round directory."""

    def __init__(self, round_out: str | Path, round_dir: str | Path, *, round_id: str | None = None,
                 double_share: float = 0.1):
        self.round_out = Path(round_out)
        self.round_dir = Path(round_dir)
        self.double_share = double_share
        loaded = load_round(round_dir)
        self.exam: Exam = loaded.exam
        self.round_id = round_id or loaded.config.round_id
        self.scored_at = scored_at(self.round_out, self.round_id)
        self._fresh: RoundView | None = None
        items = read_table(self.round_out, "item_scores")
        items = items.filter(pc.equal(items.column("round_id"), self.round_id))
        if items.num_rows == 0:
            raise ReviewError(f"{self.round_out}: no item_scores rows for round {self.round_id!r}")
        self.questions: dict[str, Question] = {q.id: q for q in self.exam.questions}
        self.question_shas = {qid: question_sha(q) for qid, q in self.questions.items()}
        self.criterion_ids = {qid: {c.id for c in q.all_criteria()} for qid, q in self.questions.items()}
        try:  # the answers as the round split them: the station never splits the submissions again
            answers = {(r.submission_id, r.question_id): r.answer for r in read_items(self.round_out, self.round_id)}
        except StoreError as error:
            raise ReviewError(str(error)) from None
        judge: dict[ItemKey, dict[str, JudgeCriterion]] = {}
        criteria = read_table(self.round_out, "criterion_scores")
        for row in criteria.filter(pc.equal(criteria.column("round_id"), self.round_id)).to_pylist():
            judge.setdefault((row["submission_id"], row["question_id"]), {})[row["criterion_id"]] = JudgeCriterion(
                points=row["points"],
                evidence=row["evidence"] or "",
                evidence_verified=bool(row["evidence_verified"]),
                rationale=row["rationale"] or "",
                source=row["source"] or "",
                expected_points=row["expected_points"],
                p_max=row["p_max"],
            )
        runs: dict[ItemKey, list[CodeRun]] = {}
        executed = read_table(self.round_out, "executor_runs")
        for row in executed.filter(pc.equal(executed.column("round_id"), self.round_id)).to_pylist():
            runs.setdefault((row["submission_id"], row["question_id"]), []).append(
                CodeRun(
                    task_id=row["task_id"],
                    test_id=row["test_id"],
                    status=row["status"] or "",
                    passed=row["passed"],
                    candidate_ms=row["candidate_ms"],
                    reference_ms=row["reference_ms"],
                    speed_ratio=row["speed_ratio"],
                    error=row["error"] or "",
                )
            )
        self.items: dict[ItemKey, ItemView] = {}
        for row in items.to_pylist():
            key = (row["submission_id"], row["question_id"])
            if row["kind"] == "missing" or row["question_id"] not in self.questions:
                continue
            answer = answers.get(key, "")
            share = _hash_share(self.round_id, *key)
            self.items[key] = ItemView(
                submission_id=key[0],
                question_id=key[1],
                kind=row["kind"] or "",
                max_points=row["max_points"],
                raw_points=row["raw_points"],
                calibrated_points=row["calibrated_points"],
                expected_error=row["expected_error"],
                confidence=row["confidence"],
                needs_review=bool(row["needs_review"]),
                reasons=tuple(r.strip() for r in (row["review_reason"] or "").split("; ") if r.strip()),
                injection_suspected=bool(row["injection_suspected"]),
                answer=answer,
                answer_sha=hashlib.sha256(answer.encode()).hexdigest(),
                double=share < double_share,
                order=int(share * 1e12),
                judge=judge.get(key, {}),
                runs=tuple(runs.get(key, [])),
            )
        self.against = {key: (item.answer_sha, self.question_shas[key[1]]) for key, item in self.items.items()}
        """What a grade of each item must have been given for to count (see ReviewStore.graders)."""
        self._review = sorted(
            (i for i in self.items.values() if i.needs_review),
            key=lambda i: (
                i.raw_points is not None,
                -(i.expected_error if i.expected_error is not None else -1.0),
                i.confidence if i.confidence is not None else 0.0,
                i.submission_id,
                natural_key(i.question_id),
            ),
        )
        self._blind = sorted((i for i in self.items.values() if i.raw_points is not None), key=lambda i: i.order)

    def current(self) -> RoundView:
        """The round as it is now: this view, or one read afresh where the round was re-scored since (its
        answers may have changed). An export checks grades against it, or it writes old answers' grades
        over a re-score.
        """
        now = scored_at(self.round_out, self.round_id)
        if now == self.scored_at:
            return self
        if self._fresh is None or self._fresh.scored_at != now:
            self._fresh = RoundView(self.round_out, self.round_dir, round_id=self.round_id,
                                    double_share=self.double_share)
        return self._fresh

    def in_mode(self, mode: str) -> list[ItemView]:
        """The items of a mode in queue order: review by most expected error first, blind in shuffled order."""
        return self._review if mode == "review" else self._blind

    def criteria(self, question_id: str) -> list[tuple[Criterion, tuple[float, ...], str]]:
        """A question's criteria with their allowed values and the alternative they belong to ("" if none)."""
        question = self.questions[question_id]
        rows = [(c, allowed_values(c), "") for c in question.criteria]
        for group in question.groups:
            for alternative in group.alternatives:
                rows += [(c, allowed_values(c), f"{group.title} · {alternative.title}") for c in alternative.criteria]
        return rows
