"""The order people read ids in: question 2.1 before 10.1, candidate s2 before s10."""

from __future__ import annotations

import re


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that compares runs of digits as numbers and the rest as text ("1.2" < "1.10", "Q2" < "Q10")."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)
