"""`exec`: run one code answer in the sandbox against its question's code tasks and print the result.

The tasks and the code of each are chosen as `gradeflow score` chooses them (`pipeline.grading.code_runs`).
With `--json` every outcome is JSON on stdout, a refusal too (`ExecRefusal`), so scripts never parse prose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import BaseModel
from rich.table import Table

from executors import ExecResult, ExecSettings, run_code_tasks
from gradeflow_cli._app import app, console, fail
from gradeflow_cli.rubric import RubricPath, load_or_exit
from pipeline.grading import code_runs
from pipeline.ingest import CodeBlock, Item, split_code
from rubric_schema import CodeTask, Exam, RubricError, load_exam


class ExecRefusal(BaseModel):
    """What `exec --json` prints when it runs nothing: the reason, in the shape a script can read."""

    status: Literal["refused"] = "refused"
    reason: str


class Refused(Exception):
    """`exec` cannot run this answer; the message says why."""


def answer_item(path: Path, question_id: str) -> Item:
    """Read the answer as the item `gradeflow score` would see: a .py file is one Python block; anything
    else is prose with fenced code blocks.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise Refused(f"{path}: cannot read the answer: {error}") from None
    if path.suffix == ".py":
        prose, blocks = "", [CodeBlock(language="python", code=text)]
    else:
        prose, blocks = split_code(text)
    return Item(submission_id=path.stem, question_id=question_id, text=prose, code_blocks=blocks)


def _show(result: ExecResult) -> None:
    checks = ", ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in result.checks.items())
    console.print(
        f"[bold]{result.task_id}[/] (question {result.question_id}): [bold]{result.status}[/] — {checks}",
        highlight=False,
    )
    console.print(f"  {result.reason}", highlight=False, soft_wrap=True)
    if result.callable:
        console.print(f"  called: {result.callable}", highlight=False)
    if result.complexity_exponent is not None:
        console.print(f"  complexity exponent {result.complexity_exponent:.3f}", highlight=False)
    if result.tests:
        table = Table(show_edge=False)
        for column in ("test", "passed", "max abs err", "candidate ms", "reference ms", "ratio", "error"):
            table.add_column(column)
        for t in result.tests:
            table.add_row(
                t.test_id,
                "yes" if t.passed else "[red]no[/]",
                "" if t.max_abs_err is None else f"{t.max_abs_err:.2g}",
                "" if t.candidate_ms is None else f"{t.candidate_ms:.2f}",
                "" if t.reference_ms is None else f"{t.reference_ms:.2f}",
                "" if t.speed_ratio is None else f"{t.speed_ratio:.2f}",
                t.error[:80],
            )
        console.print(table)
    for note in result.notes:
        console.print(f"  [yellow]note:[/] {note}", highlight=False)
    if result.output_tail:
        console.print(f"  output (tail): {result.output_tail[-300:]!r}", highlight=False)


@app.command("exec")
def execute(
    rubric: RubricPath,
    question_id: Annotated[str, typer.Argument(help="Question whose code tasks check the answer, e.g. 1.2.")],
    file: Annotated[
        Path, typer.Argument(help="The answer: a .py file, or markdown whose code blocks are run.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the ExecResult(s) as JSON.")] = False,
) -> None:
    """Run one code answer in the sandbox against its reference; print correctness, timing and complexity."""
    try:
        exam = _exam(rubric, as_json)
        jobs = _jobs(exam, rubric, question_id, file)
    except Refused as refusal:
        if as_json:
            typer.echo(ExecRefusal(reason=str(refusal)).model_dump_json(indent=2))
        raise fail(str(refusal)) from None
    results = run_code_tasks(jobs, settings=ExecSettings())  # GRADEFLOW_EXEC_*, read here at the edge
    if as_json:
        payload = [r.model_dump(mode="json") for r in results]
        typer.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2, ensure_ascii=False))
    else:
        for result in results:
            _show(result)
    unavailable = [r for r in results if r.status == "sandbox_unavailable"]
    if unavailable:
        raise fail(unavailable[0].reason)


def _exam(rubric: Path, as_json: bool) -> Exam:
    """The rubric; a broken one is printed field by field, or with --json refused in one reason."""
    if not as_json:
        return load_or_exit(rubric)
    try:
        return load_exam(rubric)
    except RubricError as error:
        raise Refused(str(error)) from None


def _jobs(exam: Exam, rubric: Path, question_id: str, file: Path) -> list[tuple[CodeTask, str]]:
    """The (task, code) runs for the answer, as `gradeflow score` would choose them; Refused when none."""
    try:
        exam.question(question_id)
    except KeyError as error:
        raise Refused(str(error.args[0])) from None
    tasks = [t for t in exam.code_tasks if t.question_id == question_id]
    if not tasks:
        raise Refused(
            f"{rubric}: question {question_id} has no code task "
            f"(code tasks: {', '.join(f'{t.id} ({t.question_id})' for t in exam.code_tasks) or 'none'})"
        )
    jobs = code_runs(exam, answer_item(file, question_id))
    if not jobs:
        entrypoints = ", ".join(t.entrypoint for t in tasks)
        raise Refused(f"{file}: no Python code that defines {entrypoints} or anything to call: nothing to run")
    return jobs
