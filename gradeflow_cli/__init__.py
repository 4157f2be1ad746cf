"""The `gradeflow` command line: thin commands over the pipeline and the flows.

Each command module registers its commands on the shared typer app when it is imported.
"""

from gradeflow_cli import (  # noqa: F401  (imported for their commands)
    calibrate,  # calibrate
    execute,  # exec
    explain,  # explain
    judge,  # judge
    query,  # query
    report,  # report
    review,  # review, review add-reviewer
    rubric,  # validate, schema, split
    score,  # score, serve
)
from gradeflow_cli._app import app
from gradeflow_cli._exit import exit_process

__all__ = ["app", "exit_process", "main"]


def main() -> None:
    """Entry point of the `gradeflow` script: the command's exit code is the process's (see `exit_process`)."""
    try:
        app()
    except SystemExit as end:
        exit_process(end.code)
    exit_process(0)
