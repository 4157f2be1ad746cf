"""The `gradeflow` command line: thin commands over the pipeline and the flows."""

from pipeline.cli import rubric  # noqa: F401  (validate, schema, split)
from pipeline.cli import judge  # noqa: F401  (judge)
from pipeline.cli import score  # noqa: F401  (score, serve)
from pipeline.cli import query  # noqa: F401  (query)
from pipeline.cli import report  # noqa: F401  (report)
from pipeline.cli import execute  # noqa: F401  (exec)
from pipeline.cli import calibrate  # noqa: F401  (calibrate)
from pipeline.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `gradeflow` script."""
    app()
