"""The environment for a round run in a process of its own, as a scheduled run is.

The machine's own GRADEFLOW_ and PREFECT_ settings are left out (a test must not score into someone's
cache or Prefect database), Prefect's home is the test's folder, and its temporary server gets time to
start on a loaded machine. `values` add to or override that.
"""

from __future__ import annotations

import os
from pathlib import Path


def round_env(tmp: Path, **values: str) -> dict[str, str]:
    """os.environ without GRADEFLOW_/PREFECT_ settings, Prefect at home in `tmp`, then `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADEFLOW_", "PREFECT_"))}
    return env | {
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        **values,
    }
