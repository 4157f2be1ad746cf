"""`review`: serve the review station of a scored round; `review add-reviewer` prints a one-time login link."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from gradeflow_cli._app import app, console, errors, fail

DEFAULT_OUT = Path("out/demo")


class _ServeByDefault(TyperGroup):
    """`gradeflow review ROUND_OUT …` means `gradeflow review serve ROUND_OUT …`; subcommands stay as they are."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(
    cls=_ServeByDefault,
    help="The review station: grade, override and double-grade a scored round in the browser. "
    "`gradeflow review ROUND_OUT --round-dir DIR` is `gradeflow review serve ROUND_OUT --round-dir DIR`.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@review_app.command("serve")
def serve(
    round_out: Annotated[Path, typer.Argument(help="Output folder of `gradeflow score`.", show_default=False)],
    round_dir: Annotated[
        Path,
        typer.Option("--round-dir", help="The round directory (round.yaml, submissions/): answers and rubric.",
                     show_default=False),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on; loopback unless you mean to share.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    round_id: Annotated[str | None, typer.Option("--round", help="Round id if not round.yaml's.")] = None,
    double_share: Annotated[
        float, typer.Option("--double", min=0, max=1, help="Share of items graded by two reviewers.")
    ] = 0.1,
) -> None:
    """Serve the review station of a round (queue, item pages, blind mode, double grading)."""
    import uvicorn

    from pipeline.review import AuthError, ReviewError, Station
    from pipeline.review._app import build_app
    from pipeline.rounds import RoundError
    from rubric_schema import RubricError

    try:
        station = Station(round_out, round_dir, round_id=round_id, double_share=double_share)
        names = sorted(station.reviewers())
    except (ReviewError, RoundError, RubricError, AuthError) as error:
        raise fail(str(error)) from None
    summary = station.exporter.run_once()
    station.exporter.start()
    if not _loopback(host):
        errors.print(f"[yellow]listening on {host}: reachable from other machines, over plain HTTP[/]")
    console.print(
        f"review station for round {station.view.round_id}: {len(station.view.items)} items, "
        f"{summary.events} grades so far; open http://{host}:{port}/ "
        f"({'reviewers: ' + ', '.join(names) if names else 'no reviewer yet'}; a login link: "
        f"gradeflow review add-reviewer NAME --out {round_out})",
        highlight=False,
    )
    uvicorn.run(build_app(station), host=host, port=port, log_level="warning")


@review_app.command("export")
def export_command(
    round_out: Annotated[Path, typer.Argument(help="Output folder of `gradeflow score`.", show_default=False)],
    round_dir: Annotated[
        Path, typer.Option("--round-dir", help="The round directory (answers and rubric).", show_default=False)
    ],
    round_id: Annotated[str | None, typer.Option("--round", help="Round id if not round.yaml's.")] = None,
) -> None:
    """Rewrite human_reviews and the final points from the review log (after re-scoring a round, say)."""
    from pipeline.review import STORE_FILE, ReviewError, ReviewStore, RoundView, export
    from pipeline.rounds import RoundError
    from rubric_schema import RubricError

    try:
        view = RoundView(round_out, round_dir, round_id=round_id)
    except (ReviewError, RoundError, RubricError) as error:
        raise fail(str(error)) from None
    summary = export(view, ReviewStore(round_out / STORE_FILE))
    console.print(
        f"round {view.round_id}: {summary.forms} grades ({summary.events} criterion events) exported, "
        f"{summary.items_decided} items decided by reviewers, {summary.stale_forms} grades stale "
        "(answer or question changed since)",
        highlight=False,
    )


@review_app.command("add-reviewer")
def add_reviewer_command(
    name: Annotated[str, typer.Argument(help="Reviewer name (letters, digits, '.', '_', '-').", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder of the round to review.")] = DEFAULT_OUT,
    url: Annotated[str, typer.Option(help="Where the station is served.")] = "http://127.0.0.1:8765",
) -> None:
    """Add a reviewer to ROUND_OUT/reviewers.yaml (token stored hashed) and print a one-time login link."""
    from pipeline.review import REVIEWERS_FILE, AuthError, add_reviewer

    try:
        token = add_reviewer(out / REVIEWERS_FILE, name)
    except AuthError as error:
        raise fail(str(error)) from None
    console.print(f"{url.rstrip('/')}/login?token={token}", highlight=False, soft_wrap=True)
