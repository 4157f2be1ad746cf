"""Typed rows of the round tables, one frozen dataclass per table, checked against its pyarrow schema here.

A column is declared in `_tables.SCHEMAS` and here; `check_rows` (run when this module is imported, and
by the tests) fails on a column missing, extra, out of order or of another type, so the two cannot
drift apart. The round's own columns (round_id, provenance, scored_at) are None until `stamped`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from typing import Any

import pyarrow as pa

from pipeline.store._tables import SCHEMAS

_row = dataclasses.dataclass(frozen=True, kw_only=True, slots=True)


@_row
class SubmissionRow:
    """A `submissions` row: one file of the round, scored or rejected with its reason."""

    round_id: str | None = None
    submission_id: str
    candidate_id: str | None = None
    source_file: str | None = None
    n_items: int | None = None
    n_missing: int | None = None
    n_unscored: int | None = None
    n_needs_review: int | None = None
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

    round_id: str | None = None
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

    round_id: str | None = None
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

    round_id: str | None = None
    submission_id: str
    question_id: str
    sample: int | None = None
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

    round_id: str | None = None
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


ROW_TYPES: dict[str, type] = {
    "submissions": SubmissionRow,
    "item_scores": ItemScoreRow,
    "criterion_scores": CriterionScoreRow,
    "judge_calls": JudgeCallRow,
    "executor_runs": ExecutorRunRow,
}
"""The tables a round writes, and the row type of each."""

Row = SubmissionRow | ItemScoreRow | CriterionScoreRow | JudgeCallRow | ExecutorRunRow


class RoundRows(typing.TypedDict):
    """Every row a round writes, by table."""

    submissions: list[SubmissionRow]
    item_scores: list[ItemScoreRow]
    criterion_scores: list[CriterionScoreRow]
    judge_calls: list[JudgeCallRow]
    executor_runs: list[ExecutorRunRow]

_ARROW_TYPES: dict[Any, tuple[pa.DataType, ...]] = {
    str: (pa.string(),),
    int: (pa.int32(), pa.int64()),
    float: (pa.float64(),),
    bool: (pa.bool_(),),
    datetime: (pa.timestamp("us", tz="UTC"),),
    list[str]: (pa.list_(pa.string()),),
}


def _without_none(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return inner
    return hint


def check_rows(row_types: dict[str, type] = ROW_TYPES) -> None:
    """Raise TypeError unless every row type has its table's columns, in order, with matching types."""
    if set(RoundRows.__annotations__) != set(ROW_TYPES):
        raise TypeError(f"RoundRows holds {sorted(RoundRows.__annotations__)}, not the tables {sorted(ROW_TYPES)}")
    for table, row_type in row_types.items():
        schema = SCHEMAS[table]
        names = [f.name for f in dataclasses.fields(row_type)]
        if names != schema.names:
            raise TypeError(f"{row_type.__name__}: fields {names} are not the columns of {table}: {schema.names}")
        hints = typing.get_type_hints(row_type)
        for column in schema:
            allowed = _ARROW_TYPES.get(_without_none(hints[column.name]), ())
            if column.type not in allowed:
                raise TypeError(f"{row_type.__name__}.{column.name}: {hints[column.name]} is not {column.type}")


def stamped(row: Row, **columns: Any) -> Row:
    """The row with the round's own columns filled in (round_id, provenance, scored_at)."""
    return dataclasses.replace(row, **columns)


check_rows()
