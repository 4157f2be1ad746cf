"""`judge`: the judge's per-criterion verdicts on the free-text items of one submission."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from gradeflow_cli._app import app, console, errors, fail
from gradeflow_cli.rubric import RubricPath, load_or_exit
from pipeline.ingest import Item, SubmissionRejected, split_file
from pipeline.judge import (
    ItemJudgment,
    JudgeConfigError,
    JudgeSettings,
    LocalModelError,
    PromptError,
    judged_criteria,
    open_judge,
)
from rubric_schema import Exam, Question


def _pairs(exam: Exam, submission: Path, question_id: str | None) -> list[tuple[Question, Item]]:
    if question_id is not None:
        try:
            exam.question(question_id)
        except KeyError as error:
            raise fail(str(error.args[0])) from None
    try:
        submissions = split_file(submission, [q.id for q in exam.questions])
    except SubmissionRejected as error:
        raise fail(str(error)) from None
    return [
        (exam.question(item.question_id), item)
        for s in submissions
        for item in s.items.values()
        if question_id in (None, item.question_id) and judged_criteria(exam.question(item.question_id))
    ]


def _settings(samples: int | None, explain: bool) -> JudgeSettings:
    overrides: dict[str, object] = {"samples": samples} if samples else {}
    if explain:
        overrides["explain"] = "always"
    try:
        return JudgeSettings(**overrides)
    except ValidationError as error:
        for e in error.errors():
            errors.print(
                f"GRADEFLOW_JUDGE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}", highlight=False
            )
        raise fail("the judge settings are not valid") from None


def _show(question: Question, judgment: ItemJudgment) -> None:
    table = Table(
        title=f"{judgment.submission_id} · question {question.id} · confidence {judgment.confidence:.2f}"
    )
    for column in ("criterion", "points", "evidence", "rationale"):
        table.add_column(column, overflow="fold")
    for criterion in judged_criteria(question):
        award = judgment.awards[criterion.id]
        points = "unscored" if award.points is None else f"{award.points:g}/{criterion.points:g}"
        if award.expected_points is not None:
            points += f" (expected {award.expected_points:.2f})"
        mark = "" if award.evidence_verified or not award.evidence else " [red](not in answer)[/]"
        why = award.reason.text if award.reason else ""
        table.add_row(criterion.id, points, award.evidence + mark, award.rationale or why)
    console.print(table)
    for reason in judgment.review_reasons:
        console.print(f"[yellow]review:[/] {reason.text}", highlight=False)


def _as_json(judgment: ItemJudgment) -> dict[str, Any]:
    """A judgment as `--json` prints it: each reason as the sentence a person reads, as it always was."""
    printed = judgment.model_dump(mode="json")
    printed["review_reasons"] = [reason.text for reason in judgment.review_reasons]
    for criterion_id, award in judgment.awards.items():
        printed["awards"][criterion_id]["reason"] = award.reason.text if award.reason else ""
    return printed


@app.command()
def judge(
    rubric: RubricPath,
    submission: Annotated[Path, typer.Argument(help="Submission file (.md, .txt, .json, .jsonl).")],
    question: Annotated[str | None, typer.Option("--question", help="Judge only this question id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the judgments as JSON.")] = False,
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples", min=1, max=15, help="Judgments per item; their agreement is the confidence."
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Add a quoted piece of evidence and a rationale to every criterion."),
    ] = False,
) -> None:
    """Judge the free-text items of one submission; print per-criterion points, evidence and rationale."""
    exam = load_or_exit(rubric)
    pairs = _pairs(exam, submission, question)
    if not pairs:
        raise fail(
            f"{submission}: no free-text item to judge" + (f" for question {question}" if question else "")
        )
    settings = _settings(samples, explain)
    try:
        with open_judge(settings) as judge_:
            judgments = judge_.judge_items(pairs, samples=samples)
            stats = judge_.stats
    except (LocalModelError, JudgeConfigError, PromptError) as error:
        raise fail(str(error)) from None
    summary = (
        f"{len(judgments)} item(s) judged; {stats.calls} model call(s), {stats.cache_hits} cache hit(s), "
        f"{stats.failures} failure(s)"
        + (f"; generated verdicts instead of score distributions: {stats.fallback}" if stats.fallback else "")
    )
    if as_json:
        typer.echo(json.dumps([_as_json(j) for j in judgments], indent=2, ensure_ascii=False))
        errors.print(summary, highlight=False)
        return
    for (q, _), judgment in zip(pairs, judgments, strict=True):
        _show(q, judgment)
    console.print(summary, highlight=False)
