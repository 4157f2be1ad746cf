"""The result tables: explicit pyarrow schemas, one parquet partition per round, atomic replacement.

Layout: `OUT/<table>/<partition_key>=<value>/part-0.parquet`, one file per partition. A partition is
written to a hidden staging file beside it and renamed over it: one rename(2) of one file, atomic, so a
reader (pyarrow, DuckDB, `open_results`) opens the old file or the new one, never none and never half of
one, and re-running a round replaces its partition instead of adding to it.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_PROVENANCE = [
    pa.field("rubric_sha", pa.string()),
    pa.field("gradeflow_version", pa.string()),
]

SCHEMAS: dict[str, pa.Schema] = {
    "submissions": pa.schema(
        [
            pa.field("round_id", pa.string(), nullable=False),
            pa.field("submission_id", pa.string(), nullable=False),
            pa.field("candidate_id", pa.string()),
            pa.field("source_file", pa.string()),
            pa.field("n_items", pa.int32()),
            pa.field("n_missing", pa.int32()),
            pa.field("n_unscored", pa.int32()),
            pa.field("n_needs_review", pa.int32()),
            pa.field("raw_total", pa.float64()),
            pa.field("calibrated_total", pa.float64()),
            pa.field("final_total", pa.float64()),
            pa.field("decided_by", pa.string()),
            pa.field("max_total", pa.float64()),
            pa.field("status", pa.string()),
            pa.field("status_reason", pa.string()),
            pa.field("calibration_id", pa.string()),
            pa.field("scored_at", pa.timestamp("us", tz="UTC")),
            *_PROVENANCE,
        ]
    ),
    "item_scores": pa.schema(
        [
            pa.field("round_id", pa.string(), nullable=False),
            pa.field("submission_id", pa.string(), nullable=False),
            pa.field("question_id", pa.string(), nullable=False),
            pa.field("kind", pa.string()),
            pa.field("max_points", pa.float64()),
            pa.field("raw_points", pa.float64()),
            pa.field("calibrated_points", pa.float64()),
            pa.field("expected_points", pa.float64()),
            pa.field("final_points", pa.float64()),
            pa.field("decided_by", pa.string()),
            pa.field("expected_error", pa.float64()),
            pa.field("confidence", pa.float64()),
            pa.field("needs_review", pa.bool_()),
            pa.field("review_reason", pa.string()),
            pa.field("review_kind", pa.string()),
            pa.field("review_kinds", pa.list_(pa.string())),
            pa.field("injection_suspected", pa.bool_()),
            pa.field("model", pa.string()),
            pa.field("prompt_sha", pa.string()),
            *_PROVENANCE,
        ]
    ),
    "criterion_scores": pa.schema(
        [
            pa.field("round_id", pa.string(), nullable=False),
            pa.field("submission_id", pa.string(), nullable=False),
            pa.field("question_id", pa.string(), nullable=False),
            pa.field("criterion_id", pa.string(), nullable=False),
            pa.field("points", pa.float64()),
            pa.field("max_points", pa.float64()),
            pa.field("evidence", pa.string()),
            pa.field("evidence_verified", pa.bool_()),
            pa.field("rationale", pa.string()),
            pa.field("source", pa.string()),
            pa.field("expected_points", pa.float64()),
            pa.field("distribution", pa.string()),
            pa.field("p_max", pa.float64()),
            *_PROVENANCE,
        ]
    ),
    "judge_calls": pa.schema(
        [
            pa.field("round_id", pa.string(), nullable=False),
            pa.field("submission_id", pa.string(), nullable=False),
            pa.field("question_id", pa.string(), nullable=False),
            pa.field("sample", pa.int32()),
            pa.field("model", pa.string()),
            pa.field("prompt_sha", pa.string()),
            pa.field("rubric_sha", pa.string()),
            pa.field("cache_hit", pa.bool_()),
            pa.field("latency_ms", pa.float64()),
            pa.field("tokens_in", pa.int64()),
            pa.field("tokens_out", pa.int64()),
            pa.field("tokens_cached", pa.int64()),
            pa.field("tokens_evaluated", pa.int64()),
            pa.field("tokens_floor", pa.int64()),
            pa.field("prefix_sha", pa.string()),
            pa.field("prefix_tokens", pa.int64()),
            pa.field("error", pa.string()),
            pa.field("gradeflow_version", pa.string()),
        ]
    ),
    "executor_runs": pa.schema(
        [
            pa.field("round_id", pa.string(), nullable=False),
            pa.field("submission_id", pa.string(), nullable=False),
            pa.field("question_id", pa.string(), nullable=False),
            pa.field("task_id", pa.string(), nullable=False),
            pa.field("test_id", pa.string(), nullable=False),
            pa.field("status", pa.string()),
            pa.field("callable", pa.string()),
            pa.field("passed", pa.bool_()),
            pa.field("max_abs_err", pa.float64()),
            pa.field("candidate_ms", pa.float64()),
            pa.field("reference_ms", pa.float64()),
            pa.field("speed_ratio", pa.float64()),
            pa.field("complexity_exponent", pa.float64()),
            pa.field("device", pa.string()),
            pa.field("error", pa.string()),
            pa.field("gradeflow_version", pa.string()),
        ]
    ),
    "human_reviews": pa.schema(
        [
            pa.field("round_id", pa.string(), nullable=False),
            pa.field("submission_id", pa.string(), nullable=False),
            pa.field("question_id", pa.string(), nullable=False),
            pa.field("criterion_id", pa.string(), nullable=False),
            pa.field("reviewer", pa.string(), nullable=False),
            pa.field("points", pa.float64()),
            pa.field("item_points", pa.float64()),
            pa.field("comment", pa.string()),
            pa.field("mode", pa.string()),
            pa.field("graded_at", pa.timestamp("us", tz="UTC")),
            pa.field("form_id", pa.string()),
            pa.field("seq", pa.int64()),
            pa.field("current", pa.bool_()),
            pa.field("stale", pa.bool_()),
            pa.field("answer_sha", pa.string()),
            pa.field("question_sha", pa.string()),
            pa.field("gradeflow_version", pa.string()),
        ]
    ),
    "calibration_fits": pa.schema(
        [
            pa.field("calibration_id", pa.string(), nullable=False),
            pa.field("question_id", pa.string(), nullable=False),
            pa.field("method", pa.string()),
            pa.field("n", pa.int64()),
            pa.field("pearson", pa.float64()),
            pa.field("spearman", pa.float64()),
            pa.field("qwk", pa.float64()),
            pa.field("mae", pa.float64()),
            pa.field("exact", pa.float64()),
            pa.field("adjacent", pa.float64()),
            pa.field("ci_low", pa.float64()),
            pa.field("ci_high", pa.float64()),
            pa.field("gradeflow_version", pa.string()),
            pa.field("k", pa.int64()),
            pa.field("weight", pa.float64()),
            pa.field("judge_reversed", pa.bool_()),
        ]
    ),
}
"""Every table gradeflow writes; the query views and the report read exactly these."""

PARTITION_KEYS: dict[str, str] = {name: "round_id" for name in SCHEMAS} | {
    "calibration_fits": "calibration_id"
}


class StoreError(Exception):
    """Rows that do not fit a table's schema; the message names the table and the column."""


def _values(row: Mapping[str, Any] | Any) -> Mapping[str, Any]:
    """A row's columns by name: a mapping as it is, a typed row (pipeline.store._rows) field by field."""
    if isinstance(row, Mapping):
        return row
    return {field.name: getattr(row, field.name) for field in dataclasses.fields(row)}


def to_arrow(table: str, rows: Iterable[Mapping[str, Any] | Any]) -> pa.Table:
    """Build a table from rows (dicts or the store's typed rows) with the table's schema; unknown columns,
    and required columns without a value, are errors.
    """
    schema = SCHEMAS[table]
    rows = [_values(row) for row in rows]
    names = set(schema.names)
    for index, row in enumerate(rows):
        extra = set(row) - names
        if extra:
            raise StoreError(f"{table}: row {index} has unknown column(s) {', '.join(sorted(extra))}")
    columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
    for field in schema:
        if not field.nullable and None in columns[field.name]:
            raise StoreError(f"{table}: row {columns[field.name].index(None)} has no {field.name}")
    try:
        return pa.Table.from_pydict(columns, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise StoreError(f"{table}: {error}") from None


def partition_dir(out_dir: str | Path, table: str, value: str) -> Path:
    """Folder of one table's partition (one round, or one calibration)."""
    return Path(out_dir) / table / f"{PARTITION_KEYS[table]}={value}"


PART_FILE = "part-0.parquet"
"""A partition's one file."""
STALE_STAGING_S = 3600.0
"""A staging file this old was left by a writer that died (a write takes seconds): the next write removes it."""


def write_partition(out_dir: str | Path, table: str, value: str, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Replace one partition atomically: write a staging file in its folder, flush it to disk, rename it
    over the partition's file.

    One rename of one file, where the old store renamed the folder away and the new one in (readers in
    between saw an empty round or FileNotFoundError). The replaced file is unlinked by the rename itself; a
    reader that has it open reads it to the end.
    """
    data = to_arrow(table, rows)
    key = PARTITION_KEYS[table]
    if data.num_rows and set(data.column(key).to_pylist()) != {value}:
        raise StoreError(f"{table}: every row must have {key}={value!r}")
    target = partition_dir(out_dir, table, value)
    target.mkdir(parents=True, exist_ok=True)
    staging = target / f".{PART_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        with staging.open("wb") as handle:
            pq.write_table(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, target / PART_FILE)
    finally:
        staging.unlink(missing_ok=True)
    _remove_stale_staging(target)
    return target


def _remove_stale_staging(folder: Path) -> None:
    """Staging files of writers killed before their rename (kill -9 skips the cleanup above)."""
    cutoff = time.time() - STALE_STAGING_S
    for leftover in folder.glob(f".{PART_FILE}.*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except FileNotFoundError:  # another writer's cleanup got there first
            continue


def read_partition(out_dir: str | Path, table: str, value: str) -> pa.Table:
    """One partition (empty, with the table's schema, when it was never written), read through one handle."""
    path = partition_dir(out_dir, table, value) / PART_FILE
    try:
        return _read_file(path, SCHEMAS[table])
    except FileNotFoundError:
        return SCHEMAS[table].empty_table()


def read_table(out_dir: str | Path, table: str) -> pa.Table:
    """All partitions of a table (empty, with its schema, when none was written)."""
    files = sorted((Path(out_dir) / table).glob("*=*/part-*.parquet"))
    if not files:
        return SCHEMAS[table].empty_table()
    return pa.concat_tables([_read_file(f, SCHEMAS[table]) for f in files])


def _read_file(path: Path, schema: pa.Schema) -> pa.Table:
    """Read through one open handle: by path, pyarrow opens the file twice (footer, then data), and a file
    replaced in between (the review station's export) would be read half old, half new.
    """
    with path.open("rb") as handle:
        return pq.read_table(handle, schema=schema)


def table_glob(out_dir: str | Path, table: str) -> str:
    """Glob of a table's parquet files, for DuckDB's read_parquet."""
    return str(Path(out_dir) / table / "*=*" / "part-*.parquet")
