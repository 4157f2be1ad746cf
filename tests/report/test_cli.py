"""`gradeflow query` and `gradeflow report` through typer's runner: output formats and exit codes."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from gradeflow_cli import app


def gradeflow(*args: str):
    """Run the CLI in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(app, list(args))


def test_query_prints_a_table(scored_round):
    sql = "SELECT status, count(*) AS n FROM submissions GROUP BY status ORDER BY status"
    result = gradeflow("query", sql, "--data", str(scored_round.out))
    assert result.exit_code == 0, result.output
    assert "rejected" in result.stdout and "3 row(s)" in result.stdout


def test_query_json_is_a_list_of_objects(scored_round):
    result = gradeflow(*["query", "SELECT submission_id, raw_total, scored_at FROM submissions "
                                 "ORDER BY submission_id", "--data", str(scored_round.out), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    expected = sorted(scored_round.rows["submissions"], key=lambda r: r["submission_id"])
    assert [r["submission_id"] for r in rows] == [r["submission_id"] for r in expected]
    assert [r["raw_total"] for r in rows] == [r["raw_total"] for r in expected]  # rejected: null
    assert rows[0]["scored_at"].startswith("2026-11-28T12:00:00")


def test_query_csv_has_a_header_and_empty_nulls(scored_round):
    sql = "SELECT submission_id, raw_total FROM submissions WHERE status = 'rejected'"
    result = gradeflow("query", sql, "--data", str(scored_round.out), "--csv")
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.stdout))) == [["submission_id", "raw_total"], ["scan", ""]]


def test_query_prints_brackets_in_values_literally(scored_round):
    result = gradeflow(*["query", "SELECT '[red]x[/red]' AS t", "--data", str(scored_round.out)])
    assert result.exit_code == 0, result.output
    assert "[red]x[/red]" in result.stdout


def test_query_sql_error_exits_1_with_duckdbs_message(scored_round):
    result = gradeflow("query", "SELECT no_such_column FROM submissions", "--data", str(scored_round.out))
    assert result.exit_code == 1
    assert "no_such_column" in result.stderr and "SQL failed" in result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped DuckDB error


def test_query_rejects_a_missing_folder_and_two_formats(tmp_path, scored_round):
    missing = gradeflow(*["query", "SELECT 1", "--data", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "no such folder" in missing.stderr
    both = gradeflow(*["query", "SELECT 1", "--data", str(scored_round.out), "--json", "--csv"])
    assert both.exit_code == 1 and "one of --json and --csv" in both.stderr


def test_query_tables_never_written_are_empty_views(tmp_path):
    result = gradeflow("query", "SELECT count(*) n FROM calibration_fits", "--data", str(tmp_path), "--csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == "n\n0\n"


def test_report_writes_the_html_file(scored_round):
    result = gradeflow(*["report", str(scored_round.out)])
    assert result.exit_code == 0, result.output
    target = scored_round.out / "report-r1.html"
    assert target.exists() and "Round r1" in target.read_text(encoding="utf-8")
    assert "report-r1.html" in result.stdout


def test_report_out_and_round_options(scored_round, tmp_path):
    out = tmp_path / "elsewhere" / "r.html"
    result = gradeflow(*["report", str(scored_round.out), "--round", "r1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_unknown_round_exits_1_naming_the_rounds(scored_round):
    result = gradeflow(*["report", str(scored_round.out), "--round", "r9"])
    assert result.exit_code == 1
    assert "round 'r9' was never scored here (rounds: r1)" in result.stderr


def test_report_on_a_folder_without_rounds_exits_1(tmp_path):
    result = gradeflow(*["report", str(tmp_path)])
    assert result.exit_code == 1 and "nothing was scored here" in result.stderr


def test_report_of_an_empty_round_succeeds(empty_round):
    result = gradeflow(*["report", str(empty_round.out)])
    assert result.exit_code == 0, result.output
    html = (empty_round.out / "report-empty.html").read_text(encoding="utf-8")
    assert "No submissions were recorded" in html


def test_query_without_a_statement_exits_1(scored_round):
    for sql in ("", "  ;", "/* only a comment */"):
        result = gradeflow("query", sql, "--data", str(scored_round.out))
        assert result.exit_code == 1 and "no SQL statement given" in result.stderr, (sql, result.output)
