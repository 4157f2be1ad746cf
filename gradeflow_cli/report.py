"""`report`: one self-contained HTML report of a scored round."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gradeflow_cli._app import app, console, fail

ROUND_OUT_HELP = "Output folder of `gradeflow score`."
ROUND_HELP = "Round to report; default: the one scored last."
OUT_HELP = "HTML file to write; default: ROUND_OUT/report-<round>.html."


@app.command()
def report(
    round_out: Annotated[Path, typer.Argument(help=ROUND_OUT_HELP, show_default=False)],
    round_id: Annotated[str | None, typer.Option("--round", help=ROUND_HELP)] = None,
    out: Annotated[Path | None, typer.Option("--out", help=OUT_HELP)] = None,
) -> None:
    """Write an HTML report of a round: totals, questions, criteria, code runs, review queue, provenance."""
    from pipeline.report import ReportError, rounds_in, write_report  # matplotlib is slow to import

    try:
        written = write_report(round_out, round_id=round_id, out_file=out)
    except ReportError as error:
        raise fail(str(error)) from None
    except OSError as error:
        raise fail(f"{error.filename or out}: cannot write the report: {error.strerror or error}") from None
    rounds = rounds_in(round_out)
    if round_id is None and len(rounds) > 1:
        console.print(f"[yellow]{len(rounds)} rounds under {round_out}; reported the one scored last "
                      "(choose with --round)[/]", highlight=False)
    console.print(f"wrote {written}", highlight=False, soft_wrap=True)  # a path must stay copyable
