"""Every ```python block of docs/QUERIES.md runs as written, and each pandas twin of a SQL example returns
what the SQL returns.

The blocks open "out/demo" (and "out") relative to the folder they run in, as an analyst's notebook in the
repository root would: each test runs them from a folder where `out/demo` holds a scored round and
`eval_sets` is the repository's. The SQL side runs through `gradeflow query`, as tests/report does.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from results_rounds import REPO, build_round, grade_panel
from typer.testing import CliRunner

from gradeflow_cli import app
from pipeline.results import open_results

DOC = REPO / "docs" / "QUERIES.md"


def _blocks(language: str) -> dict[str, str]:
    """The page's blocks of one language, keyed by the title of the section they sit in."""
    blocks: dict[str, str] = {}
    for section in re.split(r"^## ", DOC.read_text(encoding="utf-8"), flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        for code in re.findall(rf"```{language}\n(.*?)```", section, re.S):
            assert title not in blocks, f"{title}: one {language} block per section"
            blocks[title] = code
    return blocks


SQL = _blocks("sql")
PYTHON = _blocks("python")


def _run(title: str) -> dict[str, Any]:
    """Run a section's python block as written; returns the names it defined."""
    namespace: dict[str, Any] = {}
    exec(compile(PYTHON[title], f"QUERIES.md: {title}", "exec"), namespace)  # noqa: S102
    return namespace


def _sql(title: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["query", SQL[title], "--data", "out/demo", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as plain values (index columns included), NaN and NA as None, as the SQL's JSON has them."""
    flat = frame.reset_index()

    def plain(value: Any) -> Any:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        return value.item() if hasattr(value, "item") else value

    return [{c: plain(row[c]) for c in columns} for row in flat.to_dict("records")]


def _same(frame: pd.DataFrame, rows: list[dict[str, Any]], columns: list[str]) -> None:
    got = _records(frame, columns)
    want = [{c: r[c] for c in columns} for r in rows]
    assert len(got) == len(want) > 0
    for mine, theirs in zip(got, want, strict=True):
        for column in columns:
            if isinstance(theirs[column], float):
                assert mine[column] == pytest.approx(theirs[column], abs=1e-3), (column, mine, theirs)
            else:
                assert str(mine[column]) == str(theirs[column]) if theirs[column] is not None else mine[column] is None


def _needs_the_panel(request) -> None:
    if request.node.callspec.params["analyst_folder"] == "fixture":
        pytest.skip("the panel grade sheet grades the panel round (the fixture round's ids are its own)")


@pytest.fixture(params=["fixture", "panel"])
def analyst_folder(request, tmp_path, monkeypatch) -> Path:
    """A folder like the repository root: `out/demo` scored (the report tests' round or the graded panel
    round), `eval_sets` the repository's (query 4 reads the panel grade sheet by its relative path).
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "eval_sets").symlink_to(REPO / "eval_sets")
    if request.param == "fixture":
        build_round(tmp_path / "out" / "demo", round_id="demo")
    else:
        grade_panel(tmp_path / "out" / "demo")
    return tmp_path


def test_the_page_has_pandas_beside_each_sql_example_and_four_of_its_own():
    assert set(SQL) < set(PYTHON)
    assert [t for t in PYTHON if t not in SQL] == [
        "6. A round's score sheet",
        "7. Which questions discriminate",
        "8. Judge–human agreement by question",
        "9. Rounds over time",
    ]


def test_question_difficulty(analyst_folder):
    title = "1. Question difficulty"
    columns = ["question_id", "max_points", "n", "n_missing", "n_unscored", "mean_fraction", "sd_fraction"]
    mine = _run(title)["difficulty"]
    theirs = {r["question_id"]: r for r in _sql(title)}
    assert list(mine["mean_fraction"]) == sorted(mine["mean_fraction"])
    _same(mine.sort_index(), [theirs[q] for q in mine.sort_index().index], columns)


def test_criterion_hit_rates(analyst_folder):
    title = "2. Criterion hit rates"
    columns = ["question_id", "criterion_id", "max_points", "n_scored", "n_unscored", "hit_rate", "mean_fraction"]
    _same(_run(title)["hits"], _sql(title), columns)


def test_candidates_near_the_pass_mark(analyst_folder):
    title = "3. Candidates near the pass mark"
    near = _run(title)["near"]
    _same(near, _sql(title), ["submission_id", "candidate_id", "total", "above_pass", "n_unscored", "status"])


def test_judge_human_disagreement(analyst_folder, request):
    _needs_the_panel(request)
    title = "4. Judge–human disagreement"
    gaps = _run(title)["gaps"]
    columns = ["submission_id", "question_id", "max_points", "judge_points", "human_points", "judge_minus_human",
               "n_graders", "needs_review"]  # fmt: skip
    theirs = _sql(title)
    gaps = gaps.round({"human_points": 2})
    order = {(r["submission_id"], r["question_id"]): i for i, r in enumerate(theirs)}
    assert [abs(g) for g in gaps["judge_minus_human"]] == sorted((abs(g) for g in gaps["judge_minus_human"]),
                                                                 reverse=True)  # fmt: skip
    mine = gaps.reset_index()
    mine = mine.iloc[
        sorted(range(len(mine)), key=lambda i: order.get(tuple(mine.loc[i, ["submission_id", "question_id"]]), -1))
    ]
    _same(mine.set_index(["submission_id", "question_id"]), theirs, columns)


def test_review_queue(analyst_folder):
    title = "5. The review queue"
    columns = ["submission_id", "question_id", "kind", "raw_points", "max_points", "confidence",
               "injection_suspected", "review_reason"]  # fmt: skip
    _same(_run(title)["queue"].reset_index(drop=True), _sql(title), columns)


def test_score_sheet_in_two_lines(analyst_folder):
    code = PYTHON["6. A round's score sheet"]
    assert len(code.strip().splitlines()) == 2
    sheet = _run("6. A round's score sheet")["sheet"]
    assert sheet.equals(open_results("out/demo").score_sheet())
    assert len(sheet) == len(open_results("out/demo").submissions.query("status != 'rejected'"))


def test_which_questions_discriminate(analyst_folder):
    names = _run("7. Which questions discriminate")
    analysis, weak = names["analysis"], names["weak"]
    assert len(analysis) == 18
    assert set(weak.index) == {q for q, r in analysis["item_rest"].items() if r < 0.2}


def test_agreement_by_question(analyst_folder, request):
    _needs_the_panel(request)
    names = _run("8. Judge–human agreement by question")
    agreement, worst = names["agreement"], names["worst"]
    assert len(agreement) == 18 and len(worst) == 5
    assert worst["qwk"].max() <= agreement["qwk"].drop(worst.index).min()


def test_rounds_over_time(analyst_folder):
    [scored] = open_results("out/demo").rounds
    build_round(analyst_folder / "out" / "older", round_id="older")
    history = _run("9. Rounds over time")["history"]
    assert sorted(history.index) == sorted([scored, "older"])
    assert history["scored_at"].is_monotonic_increasing
