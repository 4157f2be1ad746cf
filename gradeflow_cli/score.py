"""`score` and `serve`: the main job, once or on a schedule."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.progress import RoundProgress
from gradeflow_cli._app import app, console, errors, fail
from pipeline.rounds import RoundError, load_round
from rubric_schema import RubricError

# Defaults for a quiet, offline Prefect; any of them can be overridden in the environment.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}

EXIT_INCOMPLETE = 3
"""`gradeflow score`: the round was written, but items wait for the judge (it was unavailable); run it again."""
EXIT_BUSY = 4
"""`gradeflow score`: another run is scoring the same round into the same folder (or a review export is
writing it); nothing was written. `gradeflow review` and `review export`: a re-score holds the round."""
EXIT_SHRUNK = 5
"""`gradeflow score`: submission files the round's tables hold were not found (none at all, or some without
--allow-shrink); nothing was judged or written."""
PROGRESS_EVERY_S = float(os.environ.get("GRADEFLOW_PROGRESS_EVERY_S", "10"))
"""Seconds between progress lines when stdout is no terminal (a log, a cron job)."""

JudgeChoice = Annotated[
    str,
    typer.Option(
        "--judge",
        help="local: the embedded model; openai: GRADEFLOW_JUDGE_BASE_URL; "
        "langchain: GRADEFLOW_JUDGE_PROVIDER=provider:model (unset: the embedded model through LangChain).",
    ),
]


def _quiet_prefect() -> None:
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


def _print_summary(summary) -> None:  # noqa: ANN001 (flows import is deferred)
    table = Table(title=f"round {summary.round_id}: per question")
    for column in ("question", "max", "mean", "sd", "scored", "review"):
        table.add_column(column, justify="right")
    for q in summary.questions:
        table.add_row(
            q.question_id,
            f"{q.max_points:g}",
            "-" if q.mean is None else f"{q.mean:.2f}",
            "-" if q.sd is None else f"{q.sd:.2f}",
            str(q.n_scored),
            str(q.n_review),
        )
    console.print(table)
    quantiles = summary.total_quantiles()
    if quantiles:
        console.print(
            f"totals (of {summary.max_total:g}): "
            + ", ".join(f"{name} {value:.1f}" for name, value in quantiles.items()),
            highlight=False,
        )
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(summary.statuses.items()))
    console.print(f"submissions: {summary.n_submissions} ({statuses})", highlight=False)
    console.print(
        f"judge calls: {summary.judge_calls} ({summary.judge_cache_hits} from cache, {summary.judge_errors} errors); "
        f"items needing review: {summary.n_items_review}",
        highlight=False,
    )
    if summary.judged_by_distribution or summary.judged_by_verdict:
        console.print(summary.judge_path_line(), highlight=False)
    tokens = summary.prompt_tokens_line()
    if tokens is not None:
        console.print(tokens, highlight=False)
    for kind, count in summary.review_kinds.items():
        console.print(f"  review: {count} item(s) × {kind}", highlight=False)
    for failure in summary.failures:
        console.print(f"[yellow]failure:[/] {escape(failure)}", highlight=False)
    console.print(f"tables: {summary.out_dir}/<table>/round_id={summary.round_id}/", highlight=False, soft_wrap=True)
    if not summary.complete:
        console.print(f"[bold red]{escape(summary.incomplete_line())}[/]", highlight=False)


@app.command()
def score(
    round_dir: Annotated[Path, typer.Argument(help="Round directory (round.yaml + submissions/).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output directory [default: out/<round_id>].")
    ] = None,
    judge: JudgeChoice = "local",
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            help="Calibration artifact from `gradeflow calibrate`, or `prior`: the shipped prior fitted on the "
            "public sets, for an exam with no grades yet (docs/BENCHMARKS.md measures it).",
        ),
    ] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", min=1, max=15, help="Judge samples per item.")
    ] = None,
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Replace the round's tables even when submission files scored last time are not found "
            "(moved, removed; never when none are found).",
        ),
    ] = False,
) -> None:
    """Score a round (Prefect flow) with a progress bar and a closing summary."""
    if judge not in ("local", "openai", "langchain"):
        raise fail(f"--judge must be local, openai or langchain, not {judge!r}")
    try:
        rnd = load_round(round_dir)
    except (RoundError, RubricError) as error:
        raise fail(str(error)) from None
    if calibration is not None and str(calibration) != "prior" and not calibration.is_file():
        raise fail(f"{calibration}: no such calibration file")
    if judge == "openai":
        from pipeline.judge import JudgeSettings

        endpoint = JudgeSettings()
        if not endpoint.base_url or not endpoint.model:
            raise fail("--judge openai needs GRADEFLOW_JUDGE_BASE_URL and GRADEFLOW_JUDGE_MODEL in the environment")
    out_dir = out or Path("out") / rnd.config.round_id
    _quiet_prefect()
    from flows.score_round import run_round  # Prefect is slow to import: only when a round is scored
    from pipeline.rounds import RoundBusy, RoundShrunk

    progress = RoundProgress()
    try:
        with _progress(progress):
            summary = run_round(
                round_dir,
                out_dir,
                judge=judge,  # type: ignore[arg-type]
                calibration=str(calibration) if calibration else None,
                samples=samples,
                progress=progress,
                allow_shrink=allow_shrink,
            )
    except RoundBusy as error:
        errors.print(f"[bold red]busy:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(code=EXIT_BUSY) from None
    except RoundShrunk as error:
        errors.print(f"[bold red]refused:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(code=EXIT_SHRUNK) from None
    _print_summary(summary)
    if not summary.complete:
        raise typer.Exit(code=EXIT_INCOMPLETE)


@contextmanager
def _progress(progress: RoundProgress) -> Iterator[None]:
    """A rich bar on a terminal; on anything else (a log) a plain line every PROGRESS_EVERY_S seconds."""
    if not console.is_terminal:
        with progress.lines(lambda line: console.print(line, highlight=False, markup=False), PROGRESS_EVERY_S):
            yield
        console.print(progress.snapshot().line(), highlight=False, markup=False)
        return
    columns = (TextColumn("scoring items"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task_id = bar.add_task("scoring", total=None)

        def on_event(event: str, n: int) -> None:
            if event == "start":
                bar.update(task_id, total=n)
            else:
                bar.advance(task_id, n)

        with progress.listen(on_event):
            yield


@app.command()
def serve(
    rounds_root: Annotated[
        Path, typer.Argument(help="Folder whose round directories (each with round.yaml) are scored.")
    ] = Path("eval_sets"),
    cron: Annotated[
        str | None,
        typer.Option("--cron", help="Cron schedule [default: each round's schedule, else 0 2 * * *]."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output root; each round writes under it.")] = Path(
        "out"
    ),
    judge: JudgeChoice = "local",
    name: Annotated[str, typer.Option("--name", help="Deployment name.")] = "gradeflow-scheduled",
) -> None:
    """Serve a Prefect deployment that scores every round under a folder on a cron schedule."""
    if not rounds_root.is_dir():
        raise fail(f"{rounds_root}: not a directory")
    _quiet_prefect()
    from flows.serve import serve_rounds

    serve_rounds(rounds_root, out_root=out, cron=cron, judge=judge, name=name)  # type: ignore[arg-type]
