"""`validate`, `schema` and `split`: look at a rubric and at how a submission is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gradeflow_cli._app import app, console, errors, fail
from pipeline.ingest import read_file
from rubric_schema import Exam, RubricError, exam_json_schema, exam_sha, load_exam

RubricPath = Annotated[Path, typer.Argument(help="Rubric file (YAML or JSON).", show_default=False)]


def load_or_exit(rubric: Path) -> Exam:
    """Load a rubric for a command; a broken one is printed field by field and exits 1."""
    try:
        return load_exam(rubric)
    except RubricError as error:
        for path, reason in error.problems:
            console.print(f"[red]{error.file}[/]: [bold]{path or '<top>'}[/]: {reason}", highlight=False)
        raise fail(f"{rubric} is not a valid rubric ({len(error.problems)} problem(s))") from None


@app.command()
def validate(rubric: RubricPath) -> None:
    """Validate a rubric; print its questions, points and totals."""
    exam = load_or_exit(rubric)
    table = Table(title=f"{exam.title} ({exam.id})")
    for column in ("question", "title", "points", "bonus", "criteria", "code"):
        table.add_column(column, justify="right" if column in {"points", "bonus", "criteria"} else "left")
    for q in exam.questions:
        tasks = sorted(t.id for t in exam.code_tasks if t.question_id == q.id)
        table.add_row(
            q.id,
            q.title,
            f"{q.points:g}",
            f"{q.bonus_points:g}" if q.bonus_points else "",
            str(len(q.all_criteria())),
            ", ".join(tasks),
        )
    console.print(table)
    bonus = sum(q.bonus_points for q in exam.questions)
    console.print(
        f"{len(exam.questions)} questions, {exam.total_points:g} points"
        + (f" (+{bonus:g} bonus)" if bonus else "")
        + f", {len(exam.code_tasks)} code tasks; rubric sha {exam_sha(exam)[:12]}"
    )


@app.command()
def schema() -> None:
    """Print the rubric JSON Schema."""
    typer.echo(json.dumps(exam_json_schema(), indent=2, ensure_ascii=False))


@app.command()
def split(
    rubric: RubricPath,
    submission: Annotated[Path, typer.Argument(help="Submission file (.md, .txt, .json, .jsonl).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the items as JSON.")] = False,
    summary: Annotated[bool, typer.Option("--summary", help="One line per submission.")] = False,
) -> None:
    """Show how one submission is split into items."""
    exam = load_or_exit(rubric)
    submissions, rejected = read_file(submission, [q.id for q in exam.questions])
    if not submissions:
        raise fail("; ".join(f"{r.source_file}: {r.reason}" for r in rejected) or f"{submission}: no submission")
    for r in rejected:
        errors.print(f"[yellow]rejected[/] {escape(r.source_file)}: {escape(r.reason)}", highlight=False)
    if as_json:
        payload = [s.model_dump(mode="json") for s in submissions]
        typer.echo(json.dumps(payload if len(payload) > 1 else payload[0], indent=2, ensure_ascii=False))
        return
    for s in submissions:
        notes = []
        if s.missing:
            notes.append(f"missing {', '.join(s.missing)}")
        if s.duplicates:
            notes.append(f"duplicated {', '.join(s.duplicates)}")
        if s.unmatched_text:
            notes.append(f"{len(s.unmatched_text)} chars unmatched")
        notes += s.notes
        if summary:
            console.print(
                f"{s.submission_id}: {len(s.items)} items" + (f"; {'; '.join(notes)}" if notes else ""),
                highlight=False,
            )
            continue
        table = Table(title=f"{s.submission_id} (candidate {s.candidate_id})")
        for column in ("question", "kind", "text chars", "code blocks", "starts with"):
            table.add_column(column)
        for item in s.items.values():
            preview = (item.text or item.code).strip().replace("\n", " ")[:50]
            table.add_row(
                item.question_id, item.kind, str(len(item.text)), str(len(item.code_blocks)), preview
            )
        console.print(table)
        for note in notes:
            console.print(f"[yellow]{note}[/]", highlight=False)
