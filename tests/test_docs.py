"""Every command has help and is documented (as sqlite-utils' tests/test_docs.py does)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import typer.main

from gradeflow_cli import app

REPO = Path(__file__).resolve().parents[1]
COMMANDS: dict[str, click.Command] = typer.main.get_command(app).commands  # type: ignore[attr-defined]


def documentation() -> str:
    """README.md and docs/*.md, where a user looks a command up."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages if page.exists())


def test_commands_are_registered():
    assert {"validate", "schema", "split"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help(name):
    command = COMMANDS[name]
    assert (command.help or "").strip(), f"`gradeflow {name}` has no help text (its docstring)"
    for param in command.params:
        if isinstance(param, click.Option | click.Argument) and param.name != "help":
            assert (getattr(param, "help", None) or "").strip(), (
                f"`gradeflow {name}`: {param.name} has no help"
            )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_is_documented(name):
    assert f"gradeflow {name}" in documentation(), f"`gradeflow {name}` is in neither README.md nor docs/*.md"
