"""The tables' schemas, derived from the row types, pinned to the schemas declared by hand before (issue 22).

A change here changes what every reader of the parquet files sees: make it on purpose, never by a field edit.
"""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from pipeline.store import ROW_TYPES, SCHEMAS, schema_of

PINNED = {
    "submissions": (
        "round_id: string not null\n"
        "submission_id: string not null\n"
        "candidate_id: string\n"
        "source_file: string\n"
        "n_items: int32\n"
        "n_missing: int32\n"
        "n_unscored: int32\n"
        "n_needs_review: int32\n"
        "raw_total: double\n"
        "calibrated_total: double\n"
        "final_total: double\n"
        "decided_by: string\n"
        "max_total: double\n"
        "status: string\n"
        "status_reason: string\n"
        "calibration_id: string\n"
        "scored_at: timestamp[us, tz=UTC]\n"
        "rubric_sha: string\n"
        "gradeflow_version: string"
    ),
    "item_scores": (
        "round_id: string not null\n"
        "submission_id: string not null\n"
        "question_id: string not null\n"
        "kind: string\n"
        "max_points: double\n"
        "raw_points: double\n"
        "calibrated_points: double\n"
        "expected_points: double\n"
        "final_points: double\n"
        "decided_by: string\n"
        "expected_error: double\n"
        "confidence: double\n"
        "needs_review: bool\n"
        "review_reason: string\n"
        "review_kind: string\n"
        "review_kinds: list<item: string>\n"
        "  child 0, item: string\n"
        "injection_suspected: bool\n"
        "model: string\n"
        "prompt_sha: string\n"
        "rubric_sha: string\n"
        "gradeflow_version: string"
    ),
    "criterion_scores": (
        "round_id: string not null\n"
        "submission_id: string not null\n"
        "question_id: string not null\n"
        "criterion_id: string not null\n"
        "points: double\n"
        "max_points: double\n"
        "evidence: string\n"
        "evidence_verified: bool\n"
        "rationale: string\n"
        "source: string\n"
        "expected_points: double\n"
        "distribution: string\n"
        "p_max: double\n"
        "rubric_sha: string\n"
        "gradeflow_version: string"
    ),
    "judge_calls": (
        "round_id: string not null\n"
        "submission_id: string not null\n"
        "question_id: string not null\n"
        "sample: int32\n"
        "model: string\n"
        "prompt_sha: string\n"
        "rubric_sha: string\n"
        "cache_hit: bool\n"
        "latency_ms: double\n"
        "tokens_in: int64\n"
        "tokens_out: int64\n"
        "tokens_cached: int64\n"
        "tokens_evaluated: int64\n"
        "tokens_floor: int64\n"
        "prefix_sha: string\n"
        "prefix_tokens: int64\n"
        "error: string\n"
        "gradeflow_version: string"
    ),
    "executor_runs": (
        "round_id: string not null\n"
        "submission_id: string not null\n"
        "question_id: string not null\n"
        "task_id: string not null\n"
        "test_id: string not null\n"
        "status: string\n"
        "callable: string\n"
        "passed: bool\n"
        "max_abs_err: double\n"
        "candidate_ms: double\n"
        "reference_ms: double\n"
        "speed_ratio: double\n"
        "complexity_exponent: double\n"
        "device: string\n"
        "error: string\n"
        "gradeflow_version: string"
    ),
    "human_reviews": (
        "round_id: string not null\n"
        "submission_id: string not null\n"
        "question_id: string not null\n"
        "criterion_id: string not null\n"
        "reviewer: string not null\n"
        "points: double\n"
        "item_points: double\n"
        "comment: string\n"
        "mode: string\n"
        "graded_at: timestamp[us, tz=UTC]\n"
        "form_id: string\n"
        "seq: int64\n"
        "current: bool\n"
        "stale: bool\n"
        "answer_sha: string\n"
        "question_sha: string\n"
        "gradeflow_version: string"
    ),
    "calibration_fits": (
        "calibration_id: string not null\n"
        "question_id: string not null\n"
        "method: string\n"
        "n: int64\n"
        "pearson: double\n"
        "spearman: double\n"
        "qwk: double\n"
        "mae: double\n"
        "exact: double\n"
        "adjacent: double\n"
        "ci_low: double\n"
        "ci_high: double\n"
        "gradeflow_version: string\n"
        "k: int64\n"
        "weight: double\n"
        "judge_reversed: bool"
    ),
    "items": (
        "round_id: string not null\n"
        "submission_id: string not null\n"
        "question_id: string not null\n"
        "answer: string\n"
        "text: string\n"
        "code_blocks: list<item: struct<language: string, code: string>>\n"
        "  child 0, item: struct<language: string, code: string>\n"
        "      child 0, language: string\n"
        "      child 1, code: string\n"
        "source_file: string\n"
        "duplicated: bool\n"
        "notes: list<item: string>\n"
        "  child 0, item: string\n"
        "gradeflow_version: string"
    ),
}
"""`str(schema)` of each table: names, types, order and nullability (the hand-written schemas' own)."""


@pytest.mark.parametrize("table", sorted(PINNED))
def test_derived_schema_is_the_pinned_one(table: str) -> None:
    assert str(SCHEMAS[table]) == PINNED[table]


def test_every_table_has_a_row_type_and_a_pin() -> None:
    assert set(SCHEMAS) == set(ROW_TYPES) == set(PINNED)


def test_a_field_without_default_or_declared_key_is_a_required_column() -> None:
    row = dataclasses.make_dataclass(
        "Row",
        [("a", str), ("b", "int | None", dataclasses.field(default=None)), ("c", "list[str] | None", None)],
        kw_only=True,
    )
    assert schema_of(row) == pa.schema(
        [pa.field("a", pa.string(), nullable=False), pa.field("b", pa.int64()), pa.field("c", pa.list_(pa.string()))]
    )


def test_a_type_without_an_arrow_type_is_refused() -> None:
    row = dataclasses.make_dataclass("Row", [("a", "bytes | None", None)], kw_only=True)
    with pytest.raises(TypeError, match="no arrow type"):
        schema_of(row)
