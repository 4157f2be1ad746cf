"""The columns of every table, declared once: one frozen dataclass per table, its pyarrow schema derived.

A field's Python type gives the column's arrow type (`_ARROW`; `Int32` where the column is int32, a
nested frozen dataclass for a struct); a field with no default, or declared with `key()`, is a required
(non-nullable) column. The round's own columns (round_id, provenance, scored_at) are None until `stamped`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from typing import Annotated, Any

import pyarrow as pa

_row = dataclasses.dataclass(frozen=True, kw_only=True, slots=True)

Int32 = Annotated[int, pa.int32()]
"""An int column stored as int32 (a plain int is int64)."""

_ARROW: dict[Any, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: pa.timestamp("us", tz="UTC"),
}

_REQUIRED = "required"


def key() -> Any:
    """A required column that a row gets only when the round is stamped (round_id): None until then."""
    return dataclasses.field(default=None, metadata={_REQUIRED: True})


@_row
class SubmissionRow:
    """A `submissions` row: one file of the round, scored or rejected with its reason."""

    round_id: str | None = key()
    submission_id: str
    candidate_id: str | None = None
    source_file: str | None = None
    n_items: Int32 | None = None
    n_missing: Int32 | None = None
    n_unscored: Int32 | None = None
    n_needs_review: Int32 | None = None
    raw_total: float | None = None
    calibrated_total: float | None = None
    final_total: float | None = None
    decided_by: str | None = None
    max_total: float | None = None
    status: str | None = None
    status_reason: str | None = None
    calibration_id: str | None = None
    scored_at: datetime | None = None
    rubric_sha: str | None = None
    gradeflow_version: str | None = None


@_row
class ItemScoreRow:
    """An `item_scores` row: one question of one submission."""

    round_id: str | None = key()
    submission_id: str
    question_id: str
    kind: str | None = None
    max_points: float | None = None
    raw_points: float | None = None
    calibrated_points: float | None = None
    expected_points: float | None = None
    final_points: float | None = None
    decided_by: str | None = None
    expected_error: float | None = None
    confidence: float | None = None
    needs_review: bool | None = None
    review_reason: str | None = None
    review_kind: str | None = None
    review_kinds: list[str] | None = None
    injection_suspected: bool | None = None
    model: str | None = None
    prompt_sha: str | None = None
    rubric_sha: str | None = None
    gradeflow_version: str | None = None


@_row
class CriterionScoreRow:
    """A `criterion_scores` row: a criterion's points, or a rule's adjustment (source 'rule')."""

    round_id: str | None = key()
    submission_id: str
    question_id: str
    criterion_id: str
    points: float | None = None
    max_points: float | None = None
    evidence: str | None = None
    evidence_verified: bool | None = None
    rationale: str | None = None
    source: str | None = None
    expected_points: float | None = None
    distribution: str | None = None
    """JSON: points value → probability (a distribution judge's), else None."""
    p_max: float | None = None
    rubric_sha: str | None = None
    gradeflow_version: str | None = None


@_row
class JudgeCallRow:
    """A `judge_calls` row: one sample's call(s) for one item."""

    round_id: str | None = key()
    submission_id: str
    question_id: str
    sample: Int32 | None = None
    model: str | None = None
    prompt_sha: str | None = None
    rubric_sha: str | None = None
    """The question's content hash as judged (not the round's rubric)."""
    cache_hit: bool | None = None
    latency_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cached: int | None = None
    """Prompt tokens the server reused from its cache (or a restored prefix state) for these calls."""
    tokens_evaluated: int | None = None
    """Prompt tokens the server computed for these calls."""
    tokens_floor: int | None = None
    """The fewest prompt tokens these calls could have cost: the answer once and each ask after it, the
    question's prefix aside (it is counted once per round: `prefix_sha`, `prefix_tokens`)."""
    prefix_sha: str | None = None
    """sha256 of the prompt up to the answer, shared by every call of the question."""
    prefix_tokens: int | None = None
    error: str | None = None
    gradeflow_version: str | None = None


@_row
class ExecutorRunRow:
    """An `executor_runs` row: one test of one code task run on one answer."""

    round_id: str | None = key()
    submission_id: str
    question_id: str
    task_id: str
    test_id: str
    status: str | None = None
    callable: str | None = None
    passed: bool | None = None
    max_abs_err: float | None = None
    candidate_ms: float | None = None
    reference_ms: float | None = None
    speed_ratio: float | None = None
    complexity_exponent: float | None = None
    device: str | None = None
    error: str | None = None
    gradeflow_version: str | None = None


@_row
class CodeBlockValue:
    """One fenced code block of an answer, as the `items` table holds it."""

    language: str | None = None
    code: str | None = None


@_row
class ItemRow:
    """An `items` row: one answer of one submission as the round split it, so no reader splits it again."""

    round_id: str | None = key()
    submission_id: str
    question_id: str
    answer: str | None = None
    """The whole answer as the judge sees it (prose, then the code fenced)."""
    text: str | None = None
    """The prose, code blocks removed."""
    code_blocks: list[CodeBlockValue] | None = None
    source_file: str | None = None
    duplicated: bool | None = None
    """The question was answered more than once in the file: the parts were joined in order."""
    notes: list[str] | None = None
    """What a reviewer should check about how the file was read (the submission's notes)."""
    gradeflow_version: str | None = None


@_row
class HumanReviewRow:
    """A `human_reviews` row: one reviewer's grade of one criterion (written by the review export)."""

    round_id: str | None = key()
    submission_id: str
    question_id: str
    criterion_id: str
    reviewer: str
    points: float | None = None
    item_points: float | None = None
    comment: str | None = None
    mode: str | None = None
    graded_at: datetime | None = None
    form_id: str | None = None
    seq: int | None = None
    current: bool | None = None
    stale: bool | None = None
    answer_sha: str | None = None
    question_sha: str | None = None
    gradeflow_version: str | None = None


@_row
class CalibrationFitRow:
    """A `calibration_fits` row: one question's fit and its metrics in one calibration."""

    calibration_id: str
    question_id: str
    method: str | None = None
    n: int | None = None
    pearson: float | None = None
    spearman: float | None = None
    qwk: float | None = None
    mae: float | None = None
    exact: float | None = None
    adjacent: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    gradeflow_version: str | None = None
    k: int | None = None
    weight: float | None = None
    judge_reversed: bool | None = None


ROW_TYPES: dict[str, type] = {
    "submissions": SubmissionRow,
    "item_scores": ItemScoreRow,
    "criterion_scores": CriterionScoreRow,
    "judge_calls": JudgeCallRow,
    "executor_runs": ExecutorRunRow,
    "human_reviews": HumanReviewRow,
    "calibration_fits": CalibrationFitRow,
    "items": ItemRow,
}
"""Every table gradeflow writes, and the row type that declares its columns."""

Row = SubmissionRow | ItemScoreRow | CriterionScoreRow | JudgeCallRow | ExecutorRunRow | ItemRow


class RoundRows(typing.TypedDict):
    """Every row a round writes, by table."""

    submissions: list[SubmissionRow]
    item_scores: list[ItemScoreRow]
    criterion_scores: list[CriterionScoreRow]
    judge_calls: list[JudgeCallRow]
    executor_runs: list[ExecutorRunRow]
    items: list[ItemRow]


def _arrow_type(hint: Any) -> pa.DataType:
    """The arrow type of a field's type hint (None stripped: nullability is the field's, not the type's)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is Annotated:
        return typing.get_args(hint)[1]
    if typing.get_origin(hint) is list:
        return pa.list_(_arrow_type(typing.get_args(hint)[0]))
    if dataclasses.is_dataclass(hint):
        return pa.struct(_fields(hint))
    if hint not in _ARROW:
        raise TypeError(f"no arrow type for {hint!r}")
    return _ARROW[hint]


def _fields(row_type: type) -> list[pa.Field]:
    hints = typing.get_type_hints(row_type, include_extras=True)
    return [
        pa.field(
            f.name,
            _arrow_type(hints[f.name]),
            nullable=not (f.metadata.get(_REQUIRED) or f.default is dataclasses.MISSING),
        )
        for f in dataclasses.fields(row_type)
    ]


def schema_of(row_type: type) -> pa.Schema:
    """A table's pyarrow schema, from its row type: columns in field order."""
    return pa.schema(_fields(row_type))


def stamped(row: Row, **columns: Any) -> Row:
    """The row with the round's own columns filled in (round_id, provenance, scored_at)."""
    return dataclasses.replace(row, **columns)
