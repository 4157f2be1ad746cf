"""`explain`: generate the judge's evidence and rationale for the head of a round's review queue ahead of reviewers.

Scoring never waits on explanations; the review station generates them when an item is opened. This
fills the same cache (ROUND_OUT/reviews.sqlite) beforehand, so the first items reviewers open show them at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gradeflow_cli._app import app, console, errors, fail
from gradeflow_cli.review import round_source


@app.command("explain")
def explain(
    round_out: Annotated[Path, typer.Argument(help="Output folder of `gradeflow score`.", show_default=False)],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Items of the review queue's head to explain.")] = 20,
    round_dir: Annotated[
        Path | None,
        typer.Option("--round-dir", help="The round directory (default: the one scoring recorded in ROUND_OUT).",
                     show_default=False),
    ] = None,
    round_id: Annotated[str | None, typer.Option("--round", help="Round id if not round.yaml's.")] = None,
) -> None:
    """Pre-generate explanations for the first items of the review queue (the station's order)."""
    from pipeline.judge import JudgeSettings, open_judge
    from pipeline.review import STORE_FILE, Explainer, JudgeUnavailable, ReviewError, ReviewStore, RoundView, judge_sha
    from pipeline.rounds import RoundError
    from rubric_schema import RubricError

    settings = JudgeSettings()
    try:
        directory, chosen_id = round_source(round_out, round_dir, round_id)
        view = RoundView(round_out, directory, round_id=chosen_id)
    except (ReviewError, RoundError, RubricError) as error:
        raise fail(str(error)) from None
    explainer = Explainer(view, ReviewStore(round_out / STORE_FILE), lambda: open_judge(settings),
                          judge_sha(settings))
    head = [item for item in view.in_mode("review") if Explainer.wanted(item)][:limit]
    made = cached = failed = 0
    try:
        for n, item in enumerate(head, 1):
            if explainer.state(item).state == "ready":
                cached += 1
                outcome = "cached"
            else:
                result = explainer.generate(item)
                made, failed = made + (result.state == "ready"), failed + (result.state == "failed")
                outcome = result.error or "explained"
            console.print(f"[{n}/{len(head)}] {item.submission_id} / {item.question_id}: {outcome}", highlight=False)
    except JudgeUnavailable as error:
        errors.print(f"[red]{error}[/]", highlight=False)
        raise typer.Exit(1) from None
    finally:
        explainer.close()
    console.print(f"round {view.round_id}: {len(head)} items of the review queue, {made} explained, "
                  f"{cached} already explained, {failed} failed", highlight=False)
    if failed:  # the rest are kept; a run again retries the failed ones
        raise typer.Exit(1)
