"""`score` and `serve`: the main job, once or on a schedule."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.cli._app import app, console, fail
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

JudgeChoice = Annotated[
    str, typer.Option("--judge", help="local: the embedded model; openai: GRADEFLOW_JUDGE_BASE_URL.")
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
    for reason, count in summary.review_reasons.items():
        console.print(f"  review: {count} × {reason}", highlight=False)
    for failure in summary.failures:
        console.print(f"[yellow]failure:[/] {failure}", highlight=False)
    console.print(f"tables: {summary.out_dir}/<table>/round_id={summary.round_id}/", highlight=False, soft_wrap=True)


@app.command()
def score(
    round_dir: Annotated[Path, typer.Argument(help="Round directory (round.yaml + submissions/).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output directory [default: out/<round_id>].")
    ] = None,
    judge: JudgeChoice = "local",
    calibration: Annotated[
        Path | None, typer.Option("--calibration", help="Calibration artifact from `gradeflow calibrate`.")
    ] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", min=1, max=15, help="Judge samples per item.")
    ] = None,
) -> None:
    """Score a round (Prefect flow) with a progress bar and a closing summary."""
    if judge not in ("local", "openai"):
        raise fail(f"--judge must be local or openai, not {judge!r}")
    try:
        rnd = load_round(round_dir)
    except (RoundError, RubricError) as error:
        raise fail(str(error)) from None
    if calibration is not None and not calibration.is_file():
        raise fail(f"{calibration}: no such calibration file")
    out_dir = out or Path("out") / rnd.config.round_id
    _quiet_prefect()
    from flows import progress
    from flows.score_round import run_round

    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task_id = bar.add_task("scoring", total=None)

        def on_event(event: str, n: int) -> None:
            if event == "start":
                bar.update(task_id, total=n)
            else:
                bar.advance(task_id, n)

        with progress.listen(on_event):
            summary = run_round(
                round_dir,
                out_dir,
                judge=judge,  # type: ignore[arg-type]
                calibration=str(calibration) if calibration else None,
                samples=samples,
            )
    _print_summary(summary)


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
