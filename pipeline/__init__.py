"""gradeflow's domain steps: ingest, judge, scoring, calibration, storage and reports (the CLI is gradeflow_cli)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gradeflow")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
