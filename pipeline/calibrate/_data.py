"""Human grade sheets and judge scores, joined item by item into the data a calibration is fitted on."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.ingest import SubmissionRejected, split_file, split_round
from pipeline.scoring import CriterionAward, score_question
from pipeline.store import StoreError, read_table
from rubric_schema import Exam, Question

GRADE_COLUMNS = ("submission_id", "question_id", "criterion_id", "grader", "points")
"""Columns of a human grade sheet; criterion_id may be absent or empty (a grade for the whole item)."""

_TOLERANCE = 1e-6


class CalibrationDataError(Exception):
    """Grades or scores that cannot be joined; the message names the file, the row and what was expected."""


class HumanGrade(BaseModel):
    """One row of a human grade sheet."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    submission_id: str = Field(min_length=1)
    question_id: str = Field(min_length=1)
    criterion_id: str = ""
    grader: str = Field(min_length=1)
    points: float = Field(ge=0, allow_inf_nan=False)


def load_human_grades(path: str | Path) -> list[HumanGrade]:
    """Read a grade sheet CSV; every bad row is reported with its line number and field."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise CalibrationDataError(f"{path}: cannot read the grade sheet: {error.strerror or error}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in GRADE_COLUMNS if c != "criterion_id" and c not in (reader.fieldnames or [])]
        if missing:
            raise CalibrationDataError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(GRADE_COLUMNS)}"
            )
        grades: list[HumanGrade] = []
        problems: list[str] = []
        for line, row in enumerate(reader, start=2):
            try:
                grades.append(HumanGrade.model_validate({k: (v or "").strip() for k, v in row.items() if k}))
            except ValidationError as error:
                problems += [f"{path}:{line}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    if problems:
        raise CalibrationDataError(
            "\n".join(problems[:20]) + (f"\n… {len(problems) - 20} more" if len(problems) > 20 else "")
        )
    if not grades:
        raise CalibrationDataError(f"{path}: the grade sheet has no rows")
    return grades


def load_similarities(path: str | Path) -> dict[tuple[str, str], float]:
    """Read a similarity sheet (submission_id, question_id, similarity); bad rows name their line."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise CalibrationDataError(f"{path}: cannot read the similarity sheet: {error.strerror or error}") from None
    similarities: dict[tuple[str, str], float] = {}
    for line, row in enumerate(rows, start=2):
        try:
            value = float(row["similarity"])
            key = (row["submission_id"].strip(), row["question_id"].strip())
        except (KeyError, TypeError, ValueError, AttributeError):
            raise CalibrationDataError(
                f"{path}:{line}: expected submission_id, question_id and a numeric similarity"
            ) from None
        if not math.isfinite(value):
            raise CalibrationDataError(f"{path}:{line}: similarity must be a finite number")
        similarities[key] = value
    return similarities


def load_answers(path: str | Path, question_ids: list[str]) -> dict[tuple[str, str], str]:
    """(submission_id, question_id) → answer text as the judge sees it, from a submission file or folder.

    Split as a round is split, so the ids match item_scores; a file the round would reject is skipped
    here too (its items were never scored).
    """
    path = Path(path)
    try:
        submissions = split_round(path, question_ids)[0] if path.is_dir() else split_file(path, question_ids)
    except (OSError, SubmissionRejected) as error:
        raise CalibrationDataError(f"{path}: cannot read the answers: {error}") from None
    return {
        (submission.submission_id, question_id): item.answer
        for submission in submissions
        for question_id, item in submission.items.items()
    }


def _as_judged(question: Question) -> Question:
    """Turn every criterion into a judged one: a human grades code criteria on their points directly."""
    data = question.model_dump()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "answer_kind" in node:
                node["answer_kind"], node["code"] = "text", None
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return Question.model_validate(data)


def item_grades(grades: list[HumanGrade], exam: Exam | None = None) -> dict[tuple[str, str], dict[str, float]]:
    """(submission, question) → grader → item points.

    With the rubric, a grader's criterion points go through the rubric's own rules (best k of n, caps,
    bonus), as the judge's do, and a criterion the grader left out counts 0; without it they are summed.
    """
    criteria: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for grade in grades:
        given = criteria[(grade.submission_id, grade.question_id)][grade.grader]
        if grade.criterion_id in given:
            raise CalibrationDataError(
                f"grader {grade.grader!r} graded {grade.submission_id} / {grade.question_id} / "
                f"{grade.criterion_id or '(item)'} twice"
            )
        given[grade.criterion_id] = grade.points
    questions = {q.id: q for q in exam.questions} if exam is not None else {}
    judged: dict[str, Question] = {}
    items: dict[tuple[str, str], dict[str, float]] = {}
    for (submission_id, question_id), by_grader in criteria.items():
        question = questions.get(question_id)
        if question is None:
            items[(submission_id, question_id)] = {g: sum(p.values()) for g, p in by_grader.items()}
            continue
        if question_id not in judged:
            judged[question_id] = _as_judged(question)
        known = {c.id for c in question.all_criteria()}
        points: dict[str, float] = {}
        for grader, given in by_grader.items():
            unknown = sorted(set(given) - known)
            if unknown:
                raise CalibrationDataError(
                    f"{submission_id} / {question_id}: grader {grader!r} graded criteria the rubric does not "
                    f"have: {', '.join(c or '(item)' for c in unknown)} (has {', '.join(sorted(known))})"
                )
            awards = {c: CriterionAward(points=given.get(c, 0.0)) for c in known}
            score = score_question(judged[question_id], awards)
            assert score.raw_points is not None  # every criterion has an award
            points[grader] = score.raw_points
        items[(submission_id, question_id)] = points
    return items


def graded_shares(
    grades: list[HumanGrade], maxima: dict[str, float], exam: Exam | None = None
) -> dict[tuple[str, str], float]:
    """(submission_id, question_id) → graders' mean as a share of the maximum, for the questions in `maxima`."""
    return {
        key: float(np.mean(list(points.values()))) / maxima[key[1]]
        for key, points in item_grades(grades, exam).items()
        if key[1] in maxima
    }


@dataclass(frozen=True)
class GradedAnswers:
    """Graded answers without a judge score: they only join the neighbour pool (more graded neighbours).

    They are never scored by a cross-validation, so their grades cannot leak into a held-out item's
    prediction; a fit leaves out a question's rows when that question itself is held out.
    """

    submission_id: np.ndarray
    question_id: np.ndarray
    share: np.ndarray
    """Human share of the maximum (graders' mean)."""
    embedding: np.ndarray

    def __len__(self) -> int:
        return len(self.submission_id)

    def subset(self, mask: np.ndarray) -> GradedAnswers:
        """Keep the answers where `mask` holds."""
        return GradedAnswers(self.submission_id[mask], self.question_id[mask], self.share[mask], self.embedding[mask])


@dataclass(frozen=True)
class CalibrationData:
    """Items with a judge score and at least one human grade, as parallel arrays.

    `human` is the graders' mean (the reference a calibration is fitted to); `graders` keeps each grader's
    points (NaN where that grader did not grade the item) for human–human agreement. `similarity` is an
    optional second feature: the answer's similarity to the reference (NaN where unknown). `embedding`
    holds the answers' unit vectors (a NaN row where unknown), from which the graded-answer neighbour
    feature is computed inside each fit, so it only ever sees the fit's own grades.
    """

    submission_id: np.ndarray
    question_id: np.ndarray
    max_points: np.ndarray
    raw_points: np.ndarray
    confidence: np.ndarray
    human: np.ndarray
    graders: dict[str, np.ndarray] = field(default_factory=dict)
    similarity: np.ndarray | None = None
    embedding: np.ndarray | None = None
    embedding_model: str = ""
    """The model `embedding` comes from (`pipeline.embed.MODEL_ID`)."""
    extra_pool: GradedAnswers | None = None
    """Graded answers outside these items, embedded by the same model: neighbours only."""

    def __len__(self) -> int:
        return len(self.submission_id)

    @property
    def raw_fraction(self) -> np.ndarray:
        """Judge points as a share of the item's maximum: what mappings take."""
        return self.raw_points / self.max_points

    @property
    def human_fraction(self) -> np.ndarray:
        """Human reference as a share of the maximum: what mappings predict."""
        return self.human / self.max_points

    def subset(self, mask: np.ndarray) -> CalibrationData:
        """Keep the items where `mask` holds (a boolean array or indices)."""
        return CalibrationData(
            submission_id=self.submission_id[mask],
            question_id=self.question_id[mask],
            max_points=self.max_points[mask],
            raw_points=self.raw_points[mask],
            confidence=self.confidence[mask],
            human=self.human[mask],
            graders={name: values[mask] for name, values in self.graders.items()},
            similarity=None if self.similarity is None else self.similarity[mask],
            embedding=None if self.embedding is None else self.embedding[mask],
            embedding_model=self.embedding_model,
            extra_pool=self.extra_pool,
        )

    def with_pool(self, keep: np.ndarray) -> CalibrationData:
        """Keep the extra pool's answers where `keep` holds (a held-out question's, a held-out split's)."""
        return self if self.extra_pool is None else replace(self, extra_pool=self.extra_pool.subset(keep))

    def with_similarity(self, similarity: dict[tuple[str, str], float]) -> CalibrationData:
        """Attach similarities by (submission_id, question_id); items without one get NaN."""
        values = [
            similarity.get((str(s), str(q)), math.nan)
            for s, q in zip(self.submission_id, self.question_id, strict=True)
        ]
        return replace(self, similarity=np.array(values, dtype=float))

    def with_embeddings(self, vectors: dict[tuple[str, str], np.ndarray], model_id: str) -> CalibrationData:
        """Attach answer vectors of `model_id` by (submission_id, question_id); items without one get NaN."""
        dim = len(next(iter(vectors.values()))) if vectors else 1
        rows = [
            vectors.get((str(s), str(q)), np.full(dim, np.nan))
            for s, q in zip(self.submission_id, self.question_id, strict=True)
        ]
        matrix = np.array(rows, dtype=np.float32).reshape(len(self), dim)
        return replace(self, embedding=matrix, embedding_model=model_id)

    def with_extra_pool(
        self, vectors: dict[tuple[str, str], np.ndarray], shares: dict[tuple[str, str], float]
    ) -> CalibrationData:
        """Add the graded answers of `shares` that are not items here and have a vector, as neighbours only."""
        own = {(str(s), str(q)) for s, q in zip(self.submission_id, self.question_id, strict=True)}
        keys = sorted(key for key in shares if key in vectors and key not in own)
        dim = self.embedding.shape[1] if self.embedding is not None else 1
        pool = GradedAnswers(
            submission_id=np.array([k[0] for k in keys], dtype=object),
            question_id=np.array([k[1] for k in keys], dtype=object),
            share=np.array([shares[k] for k in keys], dtype=float),
            embedding=np.array([vectors[k] for k in keys], dtype=np.float32).reshape(len(keys), dim),
        )
        return replace(self, extra_pool=pool)

    def sha256(self) -> str:
        """Content hash of the joined data: a calibration names exactly what it was fitted on."""
        order = np.lexsort((self.submission_id, self.question_id))
        rows = [
            [
                str(self.submission_id[i]),
                str(self.question_id[i]),
                float(self.max_points[i]),
                float(self.raw_points[i]),
                None if math.isnan(self.confidence[i]) else float(self.confidence[i]),
                {name: float(v[i]) for name, v in sorted(self.graders.items()) if not math.isnan(v[i])},
                *([] if self.similarity is None or math.isnan(self.similarity[i]) else [float(self.similarity[i])]),
                *(
                    []
                    if self.embedding is None or not np.isfinite(self.embedding[i]).all()
                    else [hashlib.sha256(self.embedding[i].astype("<f2").tobytes()).hexdigest()]
                ),
            ]
            for i in order
        ]
        if self.embedding is not None:
            rows.append(["embedding_model", self.embedding_model])
        if self.extra_pool is not None:
            pool = self.extra_pool
            rows += [
                ["pool", str(s), str(q), float(h), hashlib.sha256(v.astype("<f2").tobytes()).hexdigest()]
                for s, q, h, v in sorted(
                    zip(pool.submission_id, pool.question_id, pool.share, pool.embedding, strict=True),
                    key=lambda row: (str(row[1]), str(row[0])),
                )
            ]
        return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


class JoinSummary(BaseModel):
    """What the join kept and why the rest was left out; shown by the CLI, kept in the artifact."""

    model_config = ConfigDict(frozen=True)

    items: int
    """Item rows read from the round."""
    joined: int
    """Items with a judge score and a human grade: the calibration data."""
    unscored: int = 0
    """Items the judge left unscored (raw_points null): nothing to calibrate."""
    no_answer: int = 0
    """Items with no answer (kind "missing"): scored 0 by rule, not by the judge."""
    ungraded: int = 0
    """Scored items without a human grade."""
    grades_without_item: int = 0
    """Human-graded items that are not in the round."""


def read_item_scores(round_out: str | Path, *, round_id: str | None = None) -> pa.Table:
    """Read the item_scores table of a round output folder (one round, or the only one there is)."""
    round_out = Path(round_out)
    if not (round_out / "item_scores").is_dir():
        raise CalibrationDataError(f"{round_out}: no item_scores table (expected {round_out}/item_scores/round_id=…)")
    try:
        table = read_table(round_out, "item_scores")
    except (StoreError, pa.ArrowInvalid) as error:
        raise CalibrationDataError(f"{round_out}/item_scores: unreadable: {error}") from None
    rounds = sorted(set(table.column("round_id").to_pylist()))
    if round_id is not None:
        if round_id not in rounds:
            raise CalibrationDataError(f"{round_out}: no round {round_id!r} in item_scores (have {', '.join(rounds)})")
        table = table.filter(pc.equal(table.column("round_id"), round_id))
    elif len(rounds) > 1:
        raise CalibrationDataError(f"{round_out}: item_scores holds rounds {', '.join(rounds)}; pick one with --round")
    return table


def judge_points(row: dict[str, Any]) -> float:
    """The judge's score calibration learns from: the distribution's unsnapped expected points where the
    judge read a distribution (finer than the snapped points), else the raw points.
    """
    expected = row.get("expected_points")
    if expected is not None and not (isinstance(expected, float) and math.isnan(expected)):
        return float(expected)
    return float(row["raw_points"])


def join_scores(
    items: pa.Table | list[dict[str, Any]], grades: list[HumanGrade], *, exam: Exam | None = None
) -> tuple[CalibrationData, JoinSummary]:
    """Join judge item scores with human item grades on (submission_id, question_id).

    Pass the round's `exam` when the sheet grades criteria of questions with choice groups, caps or
    bonus: their points do not simply add up. A human grade above the item's maximum is an error (wrong
    sheet, wrong round, or a missing rubric), not a data point.
    """
    rows = items.to_pylist() if isinstance(items, pa.Table) else list(items)
    by_item = item_grades(grades, exam)
    counts = {"unscored": 0, "no_answer": 0, "ungraded": 0}
    kept: list[tuple[dict[str, Any], dict[str, float]]] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (str(row["submission_id"]), str(row["question_id"]))
        seen.add(key)
        if row.get("kind") == "missing":
            counts["no_answer"] += 1
        elif row.get("raw_points") is None or (isinstance(row["raw_points"], float) and math.isnan(row["raw_points"])):
            counts["unscored"] += 1
        elif key not in by_item:
            counts["ungraded"] += 1
        else:
            kept.append((row, by_item[key]))
    problems = [
        f"{row['submission_id']} / {row['question_id']}: grader {grader} gave {points:g} points "
        f"but the item is worth {row['max_points']:g}"
        for row, graded in kept
        for grader, points in graded.items()
        if points > float(row["max_points"]) + _TOLERANCE
    ]
    if problems:
        hint = (
            ""
            if exam is not None
            else ("\n(criterion points are summed; pass the rubric so its choice groups, caps and bonus apply)")
        )
        raise CalibrationDataError("human grades above the item maximum:\n" + "\n".join(problems[:20]) + hint)
    names = sorted({grader for _, graded in kept for grader in graded})
    data = CalibrationData(
        submission_id=np.array([str(r["submission_id"]) for r, _ in kept], dtype=object),
        question_id=np.array([str(r["question_id"]) for r, _ in kept], dtype=object),
        max_points=np.array([float(r["max_points"]) for r, _ in kept], dtype=float),
        raw_points=np.array([judge_points(r) for r, _ in kept], dtype=float),
        confidence=np.array(
            [math.nan if r.get("confidence") is None else float(r["confidence"]) for r, _ in kept],
            dtype=float,
        ),
        human=np.array([float(np.mean(list(g.values()))) for _, g in kept], dtype=float),
        graders={name: np.array([g.get(name, math.nan) for _, g in kept], dtype=float) for name in names},
    )
    summary = JoinSummary(items=len(rows), joined=len(kept), grades_without_item=len(set(by_item) - seen), **counts)
    return data, summary
