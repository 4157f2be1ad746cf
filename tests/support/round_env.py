"""The environment for a round run in a process of its own, as a scheduled run is, and the fake embedded
judge such a run can start (tests/support/fake_llama_server.py behind a llama-server-named wrapper).

The machine's own GRADEFLOW_ and PREFECT_ settings are left out (a test must not score into someone's
cache or Prefect database), Prefect's home is the test's folder, and its temporary server gets time to
start on a loaded machine. `values` add to or override that.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

FAKE_LLAMA_SERVER = Path(__file__).with_name("fake_llama_server.py")


def round_env(tmp: Path, **values: str) -> dict[str, str]:
    """os.environ without GRADEFLOW_/PREFECT_ settings, Prefect at home in `tmp`, then `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADEFLOW_", "PREFECT_"))}
    return env | {
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        **values,
    }


def fake_embedded_judge(tmp: Path, *, starters: Path | None = None) -> dict[str, str]:
    """GRADEFLOW_JUDGE_LOCAL_* settings that make the embedded judge start the fake llama-server; with
    `starters`, each start appends the starting process's pid there (who started a server).
    """
    wrapper = tmp / "llama-server"
    note = f'echo $PPID >> "{starters}"\n' if starters is not None else ""
    wrapper.write_text(f'#!/bin/sh\n{note}exec "{sys.executable}" "{FAKE_LLAMA_SERVER}" "$@"\n')
    wrapper.chmod(0o755)
    (tmp / "model.gguf").write_bytes(b"GGUF")
    return {
        "GRADEFLOW_JUDGE_LOCAL_SERVER_BINARY": str(wrapper),
        "GRADEFLOW_JUDGE_LOCAL_MODEL_FILE": str(tmp / "model.gguf"),
        "GRADEFLOW_JUDGE_LOCAL_MODEL_DIR": str(tmp / "models"),
    }
