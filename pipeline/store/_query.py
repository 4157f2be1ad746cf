"""DuckDB over the result tables: one view per table, named as the table."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.store._tables import SCHEMAS, table_glob


def connect(out_dir: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per table; a table never written is an empty view with its columns."""
    con = duckdb.connect(database=":memory:")
    for table, schema in SCHEMAS.items():
        if any((Path(out_dir) / table).glob("*=*/part-*.parquet")):
            glob = table_glob(out_dir, table).replace("'", "''")
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{glob}', union_by_name = true)")
        else:
            con.register(table, schema.empty_table())
    return con


def query(out_dir: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run one SQL statement over the tables; returns column names and rows."""
    con = connect(out_dir)
    try:
        result = con.execute(sql)
        if result is None or result.description is None:  # empty or comment-only SQL
            return [], []
        return [d[0] for d in result.description], result.fetchall()
    finally:
        con.close()
