"""The command line every tools/lint_*.py shares: findings under a folder, printed, exit 1 when any."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def lint_main(findings: Callable[[Path], list[str]]) -> int:
    """Print the findings under the folder given (the current one by default); 1 when there are any."""
    found = findings(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
    for line in found:
        print(line)
    return 1 if found else 0
