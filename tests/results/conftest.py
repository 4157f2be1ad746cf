"""Fixtures: the rounds of results_rounds.py, written into each test's own folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # results_rounds, with --import-mode=importlib
from results_rounds import ScoredRound, build_round, grade_panel  # noqa: E402


@pytest.fixture
def scored(tmp_path: Path) -> ScoredRound:
    """Six submissions and a rejected file, raw scores only (one unscored item, three missing answers)."""
    return build_round(tmp_path / "out")


@pytest.fixture
def calibrated(tmp_path: Path) -> ScoredRound:
    """The same round with calibrated points."""
    return build_round(tmp_path / "out-calibrated", calibrated=True)


@pytest.fixture(scope="session")
def panel(tmp_path_factory) -> tuple[Path, dict[str, list[dict]]]:
    """The panel round (14 submissions) as grading writes it; the folder and its rows."""
    out = tmp_path_factory.mktemp("panel") / "out"
    return out, grade_panel(out)
