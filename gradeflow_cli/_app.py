"""The typer application every command module registers on."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="gradeflow",
    help="LLM-assisted rubric scoring of exam rounds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Text lines never wrap: without a terminal rich would fold them at 80 columns, mid-phrase and mid-path, so
# logs and tests would depend on the width of a temporary path. Tables still fit the width.
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """Print an error the user can act on and return the exit to raise (code 1)."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)  # "[x]" is text here
    return typer.Exit(code=1)
