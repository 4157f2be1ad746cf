"""The result tables: explicit pyarrow schemas, one parquet partition per round, atomic replacement.

Layout: `OUT/<table>/<partition_key>=<value>/part-0.parquet`, one file per partition. A partition is
written to a hidden staging file beside it and renamed over it: one rename(2) of one file, atomic, so a
reader (pyarrow, DuckDB, `open_results`) opens the old file or the new one, never none and never half of
one, and re-running a round replaces its partition instead of adding to it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.files import atomic_file
from pipeline.store._rows import ROW_TYPES, CodeBlockValue, ItemRow, schema_of

SCHEMAS: dict[str, pa.Schema] = {table: schema_of(row_type) for table, row_type in ROW_TYPES.items()}
"""Every table gradeflow writes, from its row type (`_rows`); the query views and the report read exactly these."""

PARTITION_KEYS: dict[str, str] = {name: "round_id" for name in SCHEMAS} | {
    "calibration_fits": "calibration_id"
}


class StoreError(Exception):
    """Rows that do not fit a table's schema; the message names the table and the column."""


def _values(row: Mapping[str, Any] | Any) -> Mapping[str, Any]:
    """A row's columns by name: a mapping as it is, a typed row (pipeline.store._rows) field by field."""
    if isinstance(row, Mapping):
        return row
    return {field.name: _plain(getattr(row, field.name)) for field in dataclasses.fields(row)}


def _plain(value: Any) -> Any:
    """A list of nested rows (a struct column's values) as dicts, which arrow takes; anything else as it is."""
    if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
        return [dataclasses.asdict(item) for item in value]
    return value


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
    """Replace one partition atomically: `atomic_file` writes a staging file in its folder, flushes it to
    disk and renames it over the partition's file.

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
    with atomic_file(target / PART_FILE) as handle:
        pq.write_table(data, handle)
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


def read_items(out_dir: str | Path, round_id: str) -> list[ItemRow]:
    """The round's answers as it split them; StoreError, saying to re-score, for a round scored before the
    items table existed (its partition was never written, where a round of rejected files has an empty one).
    """
    path = partition_dir(out_dir, "items", round_id) / PART_FILE
    try:
        rows = _read_file(path, SCHEMAS["items"]).to_pylist()
    except FileNotFoundError:
        raise StoreError(
            f"{out_dir}: round {round_id!r} has no items table (it was scored by an older gradeflow); "
            "score the round again to read its answers"
        ) from None
    return [
        ItemRow(**row | {"code_blocks": [CodeBlockValue(**block) for block in row["code_blocks"] or []]})
        for row in rows
    ]


def table_glob(out_dir: str | Path, table: str) -> str:
    """Glob of a table's parquet files, for DuckDB's read_parquet."""
    return str(Path(out_dir) / table / "*=*" / "part-*.parquet")
