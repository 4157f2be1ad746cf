"""One submission through the whole chain: judge + executors → scoring rules → calibration → table rows.

The flow calls this per batch of submissions; everything here is domain logic and testable without
Prefect. Judge, executor and calibration arrive as arguments (Protocols), so tests can pass fakes at
those unit boundaries while the end-to-end tests pass the real ones.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline import __version__
from pipeline.files import write_atomic
from pipeline.ingest import Item, RejectedFile, Submission
from pipeline.reasons import ReviewKind, ReviewReason, kinds_of
from pipeline.scoring import CriterionAward, CriterionScore, QuestionScore, score_exam, score_missing, score_question
from pipeline.store import (
    CodeBlockValue,
    CriterionScoreRow,
    ExecutorRunRow,
    ItemRow,
    ItemScoreRow,
    JudgeCallRow,
    RoundRows,
    SubmissionRow,
    stamped,
)
from rubric_schema import CodeTask, Exam, Question

PYTHON_FENCES = {"", "python", "py", "python3", "pytorch"}


class ItemJudgmentLike(Protocol):
    """What the judge returns per item (see pipeline.judge.ItemJudgment)."""

    submission_id: str
    question_id: str
    awards: dict[str, CriterionAward]
    confidence: float
    needs_review: bool
    review_reasons: list[ReviewReason]
    injection_suspected: bool
    calls: Sequence[Any]


class JudgeLike(Protocol):
    """The judge as grading uses it."""

    def judge_items(self, pairs: list[tuple[Question, Item]], *, samples: int) -> list[ItemJudgmentLike]: ...


class ExecResultLike(Protocol):
    """What the executors return per code task (see executors.ExecResult)."""

    task_id: str
    status: str
    checks: dict[str, bool]
    reason: str
    callable: str
    tests: Sequence[Any]


Execute = Callable[[CodeTask, str], ExecResultLike]


def expected_points(
    question: Question, awards: dict[str, CriterionAward], checks: dict[str, dict[str, bool]]
) -> float | None:
    """The item's points with each judged criterion at its unsnapped expected value, by the same rules.

    A finer judge score for calibration than the snapped points; None unless every judged criterion was
    decided by a distribution.
    """
    if not awards or any(a.expected_points is None for a in awards.values()):
        return None
    unsnapped = {cid: a.model_copy(update={"points": a.expected_points}) for cid, a in awards.items()}
    return score_question(question, unsnapped, checks).raw_points


def criterion_row(submission_id: str, question_id: str, row: CriterionScore) -> CriterionScoreRow:
    """A criterion_scores row: the judge's distribution as JSON text, with its largest probability beside it."""
    values = row.model_dump()
    distribution = values.pop("distribution")
    return CriterionScoreRow(
        submission_id=submission_id,
        question_id=question_id,
        **values,
        distribution=json.dumps(distribution, sort_keys=True) if distribution is not None else None,
        p_max=max(distribution.values()) if distribution else None,
    )


class CalibratorLike(Protocol):
    """A fitted calibration (see pipeline.calibrate): calibrated points, expected error, its review rule."""

    calibration_id: str

    def apply(
        self,
        question_id: str,
        raw_points: float,
        max_points: float,
        *,
        confidence: float | None = None,
        answer: str | None = None,
    ) -> tuple[float, float]: ...

    def review_reason(
        self, expected_error: float, max_points: float, question_id: str | None = None
    ) -> ReviewReason | None: ...


@dataclass(frozen=True)
class SubmissionResult:
    """Table rows for one submission (round_id and provenance are stamped when the round is written)."""

    submission: SubmissionRow
    items: list[ItemScoreRow] = field(default_factory=list)
    criteria: list[CriterionScoreRow] = field(default_factory=list)
    judge_calls: list[JudgeCallRow] = field(default_factory=list)
    executor_runs: list[ExecutorRunRow] = field(default_factory=list)
    reasons: list[ReviewReason] = field(default_factory=list)
    """The review reasons of its items in row order, typed: the summary quotes a judge outage from them."""


def python_code(item: Item) -> str:
    """The item's Python code blocks joined; blocks fenced as another language are not run."""
    return "\n\n".join(b.code for b in item.code_blocks if b.language in PYTHON_FENCES)


_DEFINITIONS = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Assign,
    ast.AnnAssign,
)


def _top_level(code: str) -> list[ast.stmt] | None:
    try:
        return ast.parse(code).body
    except SyntaxError:
        return None


def defines(code: str, name: str) -> bool:
    """Whether the code defines `name` at top level: a task the answer did not attempt is not run."""
    body = _top_level(code)
    if body is None:
        return name in code
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return True
    return False


def task_code(item: Item, entrypoint: str) -> str:
    """The code to run for one task: the blocks that define the entrypoint, plus blocks of pure definitions.

    Answers mix runnable definitions with illustrative snippets (`loss.backward()` on its own); running a
    snippet at import would fail the whole task, so blocks with other top-level statements are left out
    unless they define the entrypoint themselves. When the blocks only work together, all are kept.
    """
    blocks = [b.code for b in item.code_blocks if b.language in PYTHON_FENCES and b.code.strip()]
    chosen = []
    for code in blocks:
        body = _top_level(code)
        pure = body is not None and all(
            isinstance(node, _DEFINITIONS)
            or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
            for node in body
        )
        if pure or defines(code, entrypoint):
            chosen.append(code)
    selected = "\n\n".join(chosen)
    return selected if defines(selected, entrypoint) else "\n\n".join(blocks)


def code_cache_key(task: CodeTask, code: str) -> str:
    """Content address of one code run: the task's contract, the exam's task module (its trials, reference
    and checks: editing them re-runs the answers) and the code.
    """
    module = task.module
    module_sha = hashlib.sha256(module.read_bytes()).hexdigest() if module and module.is_file() else None
    payload = json.dumps([task.model_dump(mode="json"), module_sha, code, __version__], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _defined_name(code: str, task: CodeTask) -> str | None:
    """The task's entrypoint or the first alias the code defines at top level, else None."""
    return next((n for n in (task.entrypoint, *task.aliases) if defines(code, n)), None)


def _defines_callables(code: str) -> bool:
    """Whether the code defines a top-level class or a function taking arguments: something to call."""
    return any(
        isinstance(node, ast.ClassDef)
        or (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.args.args + node.args.posonlyargs)
        for node in _top_level(code) or []
    )


def code_runs(exam: Exam, item: Item) -> list[tuple[CodeTask, str]]:
    """The code tasks an answer is checked on, each with the code to run: the one choice that
    `gradeflow score` and `gradeflow exec` share, so both grade an answer alike.

    Every task of the item's question whose entrypoint (or an alias) the answer defines runs. When the code
    defines none of them but does define functions or classes under other names, every task of the
    question runs: the executors find the callable by its parameters, or send the item to review naming
    the candidates (never a silent 0). Snippets that define nothing to call are not run.
    """
    code = python_code(item)
    if not code.strip():
        return []
    own = [t for t in exam.code_tasks if t.question_id == item.question_id]
    named = [(t, name) for t in own if (name := _defined_name(code, t)) is not None]
    if not named and _defines_callables(code):
        named = [(t, t.entrypoint) for t in own]
    return [(task, task_code(item, name)) for task, name in named]


def run_code_tasks(exam: Exam, item: Item, execute: Execute) -> list[ExecResultLike]:
    """Run the item's code runs (`code_runs`) with `execute`."""
    return [execute(task, code) for task, code in code_runs(exam, item)]


def _review_reasons(
    item: Item,
    question: Question,
    score: QuestionScore,
    judgment: ItemJudgmentLike | None,
    runs: list[ExecResultLike],
    duplicated: bool,
    file_notes: list[str],
) -> list[ReviewReason]:
    """Each reason once (by its text), in the order the review_reason column has always listed them."""
    # how the file was read (a guessed encoding) concerns every answer in it
    reasons = [ReviewReason(kind=ReviewKind.OTHER, detail=note) for note in file_notes]
    if judgment is not None and judgment.needs_review:
        reasons += judgment.review_reasons or [_JUDGE_ASKED]
    reasons += [r.under("unscored ") for r in score.unscored_reasons]
    for run in runs:
        if run.status != "ok" or not run.checks.get("correct", False):
            said = f"code task {run.task_id}: {run.status}: {run.reason}".rstrip(": ")
            reasons.append(ReviewReason(kind=ReviewKind.CODE, detail=said))
    if duplicated:
        said = f"question {question.id} answered more than once; parts joined"
        reasons.append(ReviewReason(kind=ReviewKind.DUPLICATE_ANSWER, detail=said))
    once: dict[str, ReviewReason] = {}
    for reason in reasons:
        once.setdefault(reason.text, reason)
    return list(once.values())


_JUDGE_ASKED = ReviewReason(kind=ReviewKind.OTHER, detail="judge asked for review")
"""A judgment that wants review without saying why (a judge other than ours)."""


def final_points(raw: float | None, calibrated: float | None) -> tuple[float | None, str | None]:
    """An item's final points before any human review and what decided them: calibrated, else raw (the
    review station overrides).
    """
    if calibrated is not None:
        return calibrated, "calibration"
    return raw, "judge" if raw is not None else None


def grade_submission(
    exam: Exam,
    submission: Submission,
    judgments: dict[str, ItemJudgmentLike],
    runs: dict[str, list[ExecResultLike]],
    *,
    calibrator: CalibratorLike | None = None,
) -> SubmissionResult:
    """Combine judgments and code runs of one submission into scored rows."""
    items: list[ItemScoreRow] = []
    criteria: list[CriterionScoreRow] = []
    judge_calls: list[JudgeCallRow] = []
    executor_runs: list[ExecutorRunRow] = []
    question_scores: dict[str, QuestionScore] = {}
    calibrated_total = 0.0
    waiting = 0
    all_reasons: list[ReviewReason] = []
    for question in exam.questions:
        key = {"submission_id": submission.submission_id, "question_id": question.id}
        item = submission.items.get(question.id)
        if item is None:
            score = score_missing(question)
            question_scores[question.id] = score
            items.append(
                ItemScoreRow(
                    **key,
                    kind="missing",
                    max_points=question.points,
                    raw_points=0.0,
                    calibrated_points=0.0 if calibrator is not None else None,
                    final_points=0.0,
                    decided_by="rule",
                    confidence=1.0,
                    needs_review=False,
                    review_reason="no answer",
                )
            )
            criteria += [criterion_row(submission.submission_id, question.id, row) for row in score.rows]
            continue
        judgment = judgments.get(question.id)
        item_runs = runs.get(question.id, [])
        checks = {run.task_id: run.checks for run in item_runs}
        awards = judgment.awards if judgment is not None else {}
        score = score_question(question, awards, checks)
        expected = expected_points(question, awards, checks)
        question_scores[question.id] = score
        reasons = _review_reasons(
            item, question, score, judgment, item_runs, question.id in submission.duplicates, submission.notes
        )
        calibrated, expected_error = None, None
        if calibrator is not None and score.raw_points is not None:
            calibrated, expected_error = calibrator.apply(
                question.id,
                expected if expected is not None else score.raw_points,
                question.points,
                confidence=judgment.confidence if judgment else None,
                answer=item.answer,
            )
            reason = (
                calibrator.review_reason(expected_error, question.points, question_id=question.id)
                if expected_error is not None
                else None
            )
            if reason:
                reasons.append(reason)
        calibrated_total += calibrated or 0.0
        kinds = kinds_of(reasons)
        all_reasons += reasons
        waiting += ReviewKind.JUDGE_UNAVAILABLE in kinds
        calls = list(judgment.calls) if judgment is not None else []
        final, decided_by = final_points(score.raw_points, calibrated)
        items.append(
            ItemScoreRow(
                **key,
                kind=item.kind,
                max_points=question.points,
                raw_points=score.raw_points,
                calibrated_points=calibrated,
                expected_points=expected,
                final_points=final,
                decided_by=decided_by,
                expected_error=expected_error,
                confidence=judgment.confidence if judgment is not None else 1.0,
                needs_review=bool(reasons),
                review_reason="; ".join(r.text for r in reasons),
                review_kind=kinds[0].value if kinds else None,
                review_kinds=[k.value for k in kinds],
                injection_suspected=bool(judgment and judgment.injection_suspected),
                model=calls[0].model if calls else None,
                prompt_sha=calls[0].prompt_sha if calls else None,
            )
        )
        criteria += [criterion_row(submission.submission_id, question.id, row) for row in score.rows]
        judge_calls += [JudgeCallRow(**key, **call.model_dump()) for call in calls]
        for run in item_runs:
            run_key = key | {"task_id": run.task_id, "status": run.status, "callable": run.callable}
            executor_runs += [ExecutorRunRow(**run_key, **test.model_dump()) for test in run.tests]
            if not run.tests:
                executor_runs.append(ExecutorRunRow(**run_key, test_id="-", passed=False, error=run.reason))
    exam_score = score_exam(exam, question_scores)
    n_review = sum(1 for row in items if row.needs_review and row.kind != "missing")
    notes = []
    if submission.unmatched_text.strip():
        notes.append(f"{len(submission.unmatched_text)} characters matched no question")
    if exam_score.unscored:
        notes.append(f"unscored: {', '.join(exam_score.unscored)}")
    if waiting:
        notes.append(f"{waiting} item(s) wait for the judge (unavailable): the next run scores them")
    row = SubmissionRow(
        submission_id=submission.submission_id,
        candidate_id=submission.candidate_id,
        source_file=submission.source_file,
        n_items=len(submission.items),
        n_missing=len(submission.missing),
        n_unscored=len(exam_score.unscored),
        n_needs_review=n_review,
        raw_total=exam_score.raw_total,
        calibrated_total=round(calibrated_total, 2) if calibrator is not None else None,
        final_total=round(calibrated_total, 2) if calibrator is not None else exam_score.raw_total,
        decided_by="calibration" if calibrator is not None else "judge",
        max_total=exam.total_points,
        status="incomplete" if waiting else "needs_review" if (n_review or exam_score.unscored) else "scored",
        status_reason="; ".join(notes),
        calibration_id=calibrator.calibration_id if calibrator is not None else None,
    )
    return SubmissionResult(
        submission=row,
        items=items,
        criteria=criteria,
        judge_calls=judge_calls,
        executor_runs=executor_runs,
        reasons=all_reasons,
    )


def rejected_result(exam: Exam, rejected: RejectedFile) -> SubmissionResult:
    """A file that is no submission still gets a row: status "rejected" with the reason, nothing lost."""
    return SubmissionResult(
        submission=SubmissionRow(
            submission_id=Path(rejected.source_file.split(":")[0]).stem,
            source_file=rejected.source_file,
            n_items=0,
            n_missing=len(exam.questions),
            n_unscored=0,
            n_needs_review=0,
            raw_total=None,
            max_total=exam.total_points,
            status="rejected",
            status_reason=rejected.reason,
        )
    )


def round_rows(
    round_id: str,
    rubric_sha: str,
    results: Sequence[SubmissionResult],
    submissions: Sequence[Submission],
    *,
    scored_at: datetime | None = None,
) -> RoundRows:
    """All rows of a round, per table, with round id and provenance stamped on; `submissions` (the round's
    split files) give the `items` table, so no reader splits the round again.
    """
    scored_at = scored_at or datetime.now(UTC)
    stamp = {"round_id": round_id, "rubric_sha": rubric_sha, "gradeflow_version": __version__}
    version = {"round_id": round_id, "gradeflow_version": __version__}
    tables = RoundRows(
        submissions=[], item_scores=[], criterion_scores=[], judge_calls=[], executor_runs=[], items=[]
    )
    for result in sorted(results, key=lambda r: r.submission.submission_id):
        tables["submissions"].append(stamped(result.submission, **stamp, scored_at=scored_at))
        tables["item_scores"] += [stamped(row, **stamp) for row in result.items]
        tables["criterion_scores"] += [stamped(row, **stamp) for row in result.criteria]
        tables["judge_calls"] += [stamped(row, **version) for row in result.judge_calls]
        tables["executor_runs"] += [stamped(row, **version) for row in result.executor_runs]
    for submission in sorted(submissions, key=lambda s: s.submission_id):
        tables["items"] += [_item_row(submission, item, **version) for item in submission.items.values()]
    return tables


def _item_row(submission: Submission, item: Item, **columns: Any) -> ItemRow:
    """An `items` row: the answer as split, with its file and the file's notes."""
    return ItemRow(
        submission_id=item.submission_id,
        question_id=item.question_id,
        answer=item.answer,
        text=item.text,
        code_blocks=[CodeBlockValue(language=b.language, code=b.code) for b in item.code_blocks],
        source_file=submission.source_file,
        duplicated=item.question_id in submission.duplicates,
        notes=list(submission.notes),
        **columns,
    )


def judged_questions(exam: Exam) -> set[str]:
    """Questions with at least one criterion the judge decides (text or both)."""
    return {q.id for q in exam.questions if any(c.answer_kind != "code" for c in q.all_criteria())}


def judged_pairs(exam: Exam, submissions: Sequence[Submission]) -> list[tuple[Question, Item]]:
    """The items the judge decides, with their questions, in submission order."""
    judged = judged_questions(exam)
    return [(exam.question(qid), item) for s in submissions for qid, item in s.items.items() if qid in judged]


def grade_batch(
    exam: Exam,
    submissions: Sequence[Submission],
    *,
    judge: JudgeLike,
    execute: Execute,
    samples: int = 1,
    calibrator: CalibratorLike | None = None,
    judged: Mapping[tuple[str, str], ItemJudgmentLike] | None = None,
) -> list[SubmissionResult]:
    """Judge the items of a batch in one call (grouped by question for the prompt cache), run code, score.

    `judged`: judgments made ahead for the whole round (submission id, question id → judgment); only the
    items it lacks are judged here.
    """
    ahead = judged or {}
    pairs = [(q, item) for q, item in judged_pairs(exam, submissions) if (item.submission_id, q.id) not in ahead]
    judgments = [*judge.judge_items(pairs, samples=samples)] if pairs else []
    by_item = {**ahead, **{(j.submission_id, j.question_id): j for j in judgments}}
    results = []
    for submission in submissions:
        runs = {qid: run_code_tasks(exam, item, execute) for qid, item in submission.items.items()}
        mine = {qid: j for (sid, qid), j in by_item.items() if sid == submission.submission_id}
        results.append(
            grade_submission(
                exam, submission, mine, runs, calibrator=calibrator
            )
        )
    return results


def cached_execute(execute: Execute, cache_dir: Path) -> Execute:
    """Content-addressed cache of code runs, so a resumed round reproduces the same timings and verdicts."""
    from executors import ExecResult  # executors imports torch lazily; keep the CLI start fast

    def run(task: CodeTask, code: str) -> ExecResultLike:
        key = code_cache_key(task, code)
        path = cache_dir / key[:2] / f"{key}.json"
        if path.exists():
            return ExecResult.model_validate_json(path.read_text(encoding="utf-8"))
        result = execute(task, code)
        if result.status not in {"sandbox_unavailable"}:
            write_atomic(path, result.model_dump_json())
        return result

    return run
