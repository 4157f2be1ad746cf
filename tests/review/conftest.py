"""Rounds to review, scored by the real grading code with a fake judge (see review_rounds.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # review_rounds, with --import-mode=importlib

from review_rounds import ReviewRound, build  # noqa: E402


@pytest.fixture
def small_round(tmp_path: Path) -> ReviewRound:
    """Six submissions × four questions (24 items), the judge's flags by hash."""
    return build(tmp_path, submissions=6, questions=4)


@pytest.fixture
def flagged_round(tmp_path: Path) -> ReviewRound:
    """Twelve submissions × four questions, every item flagged for review."""
    return build(tmp_path, submissions=12, questions=4, flag_all=True)
