"""`query`: DuckDB SQL over the result tables, printed as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import math
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.table import Table
from rich.text import Text

from gradeflow_cli._app import app, console, fail
from pipeline import store

SQL_HELP = ("SQL over the views submissions, item_scores, criterion_scores, judge_calls, executor_runs, "
            "calibration_fits.")
DEFAULT_DATA = Path("out/demo")


def _jsonable(value: Any) -> Any:
    """Turn a DuckDB value into JSON: timestamps as ISO text, NaN as null, nested lists and structs kept."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _csv_value(value: Any) -> Any:
    """Turn a value into a CSV cell: NULL as empty, lists and structs as JSON."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_jsonable(value), ensure_ascii=False)
    return value


def _cell(value: Any) -> Text:
    """Turn a value into a rich table cell: plain Text, so [brackets] in candidate text are not markup."""
    if value is None:
        return Text("NULL", style="dim")
    if isinstance(value, float):
        return Text(f"{value:.4g}" if abs(value) < 1 else f"{round(value, 4):g}")
    return Text(str(value))


def _run(data: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run the SQL over the views; DuckDB's own message, or a note when there was no statement, exits 1."""
    con = store.connect(data)
    try:
        result = con.execute(sql)
        if result is None:  # empty input or comments only
            raise fail("no SQL statement given")
        return [d[0] for d in result.description or []], result.fetchall()
    except duckdb.Error as error:
        raise fail(f"SQL failed: {error}") from None
    finally:
        con.close()


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help=SQL_HELP, show_default=False)],
    data: Annotated[Path, typer.Option("--data", help="Output folder of `gradeflow score`.")] = DEFAULT_DATA,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON objects.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the rows as CSV with a header.")] = False,
) -> None:
    """Run DuckDB SQL over a scored round's tables (see docs/QUERIES.md for examples)."""
    if as_json and as_csv:
        raise fail("choose one of --json and --csv")
    if not data.is_dir():
        raise fail(f"{data}: no such folder; score a round first (gradeflow score ROUND_DIR --out {data}) "
                   "or point --data at a scoring output folder")
    columns, rows = _run(data, sql)
    if as_json:
        typer.echo(json.dumps([_jsonable(dict(zip(columns, row, strict=True))) for row in rows],
                              ensure_ascii=False, indent=2))
        return
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_csv_value(v) for v in row] for row in rows])
        return
    table = Table(*columns, caption=f"{len(rows)} row(s)")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
