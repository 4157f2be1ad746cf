"""Rounds to open: the report tests' hand-built round (known values), and the panel round as the real
grading code writes it (real ingest, rules and store; the judge and the code runner are those tests' fakes).

Both builders are loaded from tests/report, not copied: one definition of each fixture round.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pipeline.grading import grade_batch, round_rows
from pipeline.ingest import split_round
from pipeline.rounds import load_round
from pipeline.store import write_partition
from rubric_schema import exam_sha

REPO = Path(__file__).resolve().parents[2]
PANEL = REPO / "eval_sets" / "ai-engineer-mid" / "rounds" / "panel"


def _load(name: str, path: Path) -> ModuleType:
    """Import a module of another test folder by path (the suite runs with --import-mode=importlib)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


report_round = _load("results_report_round", REPO / "tests" / "report" / "conftest.py")
report_grading = _load("results_report_grading", REPO / "tests" / "report" / "test_from_grading.py")
build_round = report_round.build_round
ScoredRound = report_round.ScoredRound


def grade_panel(out: Path) -> dict[str, list[dict]]:
    """Grade the panel round with the real rules and the fakes, write it under `out`; returns the rows as
    the tables hold them (column → value).
    """
    rnd = load_round(PANEL)
    submissions, _ = split_round(rnd.submissions_dir, [q.id for q in rnd.exam.questions])
    judge = report_grading.FakeJudge(exam_sha(rnd.exam))
    results = grade_batch(rnd.exam, submissions, judge=judge, execute=report_grading.fake_execute)
    rows = round_rows(rnd.config.round_id, exam_sha(rnd.exam), results, submissions)
    for table, table_rows in rows.items():
        write_partition(out, table, rnd.config.round_id, table_rows)
    return {table: [dataclasses.asdict(row) for row in table_rows] for table, table_rows in rows.items()}
