"""open_results: typed frames and DuckDB relations over the tables, and the analysts' helpers.

Expected values are computed in plain Python from the rows the fixtures wrote, never by the code under test.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from results_rounds import PANEL, build_round

from pipeline.calibrate import HumanGrade, load_human_grades
from pipeline.results import ResultsError, item_points, natural_key, open_results
from pipeline.results._analysis import item_analysis
from pipeline.store import write_partition
from rubric_schema import load_exam

QUESTIONS_IN_ORDER = ["1.1", "1.2", "2.1", "3.1", "3.2", "4.1", "4.2", "5.1", "5.2", "6.1", "6.2", "7.1", "7.2",
                      "8.1", "8.2", "9.1", "9.2", "10.1"]  # fmt: skip


def test_natural_key_reads_numbers_as_numbers():
    assert sorted(["10.1", "2.1", "1.10", "1.2", "s10", "s2"], key=natural_key) == [
        "1.2",
        "1.10",
        "2.1",
        "10.1",
        "s2",
        "s10",
    ]


def test_tables_are_typed_frames(scored):
    results = open_results(scored.out)
    items = results.item_scores
    assert len(items) == len(scored.rows["item_scores"])
    assert isinstance(items["question_id"].dtype, pd.CategoricalDtype)
    assert list(items["question_id"].cat.categories) == QUESTIONS_IN_ORDER
    assert items["raw_points"].dtype == np.float64
    unscored = items[(items["submission_id"] == "s06") & (items["question_id"] == "3.2")]
    assert math.isnan(unscored["raw_points"].item()), "unscored must stay NaN, not 0"
    assert items["raw_points"].sum() == pytest.approx(sum(r["raw_points"] or 0 for r in scored.rows["item_scores"]))
    assert items["needs_review"].dtype == "boolean"
    assert items["review_reason"].dtype == pd.StringDtype()
    submissions = results.submissions
    assert submissions["n_items"].dtype == "Int32"
    assert str(submissions["scored_at"].dt.tz) == "UTC"
    assert submissions["scored_at"].iloc[0] == pd.Timestamp(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    rejected = submissions[submissions["status"] == "rejected"]
    assert rejected["candidate_id"].isna().all() and rejected["raw_total"].isna().all()
    criteria = results.criterion_scores
    assert criteria.sort_values(["question_id", "criterion_id"])["question_id"].iloc[-1] == "10.1"
    assert list(results.calibration_fits.columns)[:2] == ["calibration_id", "question_id"]
    assert results.calibration_fits.empty, "a table no round wrote is an empty frame with its columns"
    reviews = results.human_reviews
    assert reviews.empty and str(reviews["graded_at"].dt.tz) == "UTC"
    assert isinstance(reviews["reviewer"].dtype, pd.CategoricalDtype)


def test_relations_and_sql_read_the_same_files(scored):
    with open_results(scored.out) as results:
        relation = results.relation("item_scores")
        flagged = relation.filter("needs_review").aggregate("count(*) AS n").fetchall()
        assert flagged == [(sum(1 for r in scored.rows["item_scores"] if r["needs_review"]),)]
        frame = results.sql("SELECT question_id, sum(raw_points) AS points FROM item_scores GROUP BY 1").df()
        assert dict(zip(frame["question_id"], frame["points"], strict=True)) == pytest.approx(
            results.item_scores.groupby("question_id", observed=True)["raw_points"].sum().to_dict()
        )
        assert results.relation("calibration_fits").fetchall() == []


def test_unknown_tables_and_folders_are_errors_that_say_what_there_is(scored, tmp_path):
    results = open_results(scored.out)
    with pytest.raises(ResultsError, match="item_scores"):
        results.table("answers")
    with pytest.raises(ResultsError, match="no result tables"):
        open_results(tmp_path / "nowhere")
    with pytest.raises(ResultsError, match="no round 'r9' \\(have r1\\)"):
        results.score_sheet("r9")


def test_score_sheet_has_a_row_per_candidate_and_a_column_per_question(scored):
    sheet = open_results(scored.out).score_sheet(points="raw")
    scored_rows = [s for s in scored.rows["submissions"] if s["status"] != "rejected"]
    assert list(sheet.index) == [s["submission_id"] for s in scored_rows]
    assert list(sheet.columns) == ["candidate_id", *QUESTIONS_IN_ORDER, "total", "max_total", "n_unscored", "status"]
    for item in scored.rows["item_scores"]:
        value = sheet.loc[item["submission_id"], item["question_id"]]
        assert (math.isnan(value) and item["raw_points"] is None) or value == item["raw_points"]
    for submission in scored_rows:
        row = sheet.loc[submission["submission_id"]]
        assert row["total"] == pytest.approx(submission["raw_total"], abs=0.011)
        assert row["candidate_id"] == submission["candidate_id"]
        assert row["n_unscored"] == submission["n_unscored"]
    assert sheet.loc["s06", "n_unscored"] == 1 and math.isnan(sheet.loc["s06", "3.2"])


def test_final_points_are_the_override_else_calibrated_else_raw(scored, calibrated):
    raw_sheet = open_results(scored.out).score_sheet()
    assert raw_sheet[QUESTIONS_IN_ORDER].equals(open_results(scored.out).score_sheet(points="raw")[QUESTIONS_IN_ORDER])
    assert open_results(scored.out).score_sheet(points="calibrated")[QUESTIONS_IN_ORDER].isna().all().all()
    sheet = open_results(calibrated.out).score_sheet()
    for item in calibrated.rows["item_scores"]:
        value = sheet.loc[item["submission_id"], item["question_id"]]
        expected = item["calibrated_points"]
        assert (math.isnan(value) and expected is None) or value == expected
    items = pd.DataFrame({
        "raw_points": [4.0, 4.0, 4.0, np.nan],
        "calibrated_points": [3.0, np.nan, 3.0, np.nan],
        "final_points": [np.nan, np.nan, 5.0, 2.0],
    })  # fmt: skip
    assert item_points(items, "final").tolist() == [3.0, 4.0, 5.0, 2.0]
    with pytest.raises(ValueError, match="'human'"):
        item_points(items, "human")  # type: ignore[arg-type]


def test_a_folder_of_rounds_needs_a_round_id_and_keeps_rounds_apart(tmp_path):
    first = build_round(tmp_path / "out" / "r1", round_id="r1")
    build_round(tmp_path / "out" / "r2", round_id="r2")
    results = open_results(tmp_path / "out")
    assert results.rounds == ["r1", "r2"]
    assert len(results.item_scores) == 2 * len(first.rows["item_scores"])
    with pytest.raises(ResultsError, match="holds rounds r1, r2; pass round_id="):
        results.score_sheet()
    sheet = results.score_sheet("r1", points="raw")
    assert len(sheet) == 6
    assert sheet["total"].tolist() == pytest.approx(
        [s["raw_total"] for s in first.rows["submissions"] if s["raw_total"] is not None], abs=0.011
    )
    assert results.sql("SELECT count(DISTINCT round_id) FROM submissions").fetchall() == [(2,)]


def test_item_analysis_is_classical_test_theory(scored):
    analysis = open_results(scored.out).item_analysis(points="raw")
    assert list(analysis.index) == QUESTIONS_IN_ORDER
    points: dict[str, dict[str, float]] = defaultdict(dict)
    maxima = {}
    for item in scored.rows["item_scores"]:
        maxima[item["question_id"]] = item["max_points"]
        if item["raw_points"] is not None:
            points[item["submission_id"]][item["question_id"]] = item["raw_points"]
    totals = {sid: sum(by_q.values()) for sid, by_q in points.items()}
    for question_id, row in analysis.iterrows():
        have = [sid for sid in points if question_id in points[sid]]
        x = [points[sid][question_id] for sid in have]
        assert row["n"] == len(have)
        assert row["mean_fraction"] == pytest.approx(statistics.mean(v / maxima[question_id] for v in x))
        if len(set(x)) > 1:
            assert row["item_total"] == pytest.approx(statistics.correlation(x, [totals[s] for s in have]))
            rest = [totals[s] - points[s][question_id] for s in have]
            assert row["item_rest"] == pytest.approx(statistics.correlation(x, rest))
            assert row["item_rest"] < row["item_total"], "the item inflates its own correlation with the total"
        else:
            assert math.isnan(row["item_rest"]), "a question everyone scored alike does not discriminate"
    assert (analysis.loc["3.2", "n_unscored"], analysis.loc["9.1", "n_missing"]) == (1, 1)


def test_item_analysis_marks_a_question_that_ranks_candidates_backwards(scored):
    items = open_results(scored.out).item_scores
    totals = items.groupby("submission_id", observed=True)["raw_points"].sum()
    order = totals.rank().to_dict()  # the strongest candidate gets the most points of 4.1 unless reversed
    flipped = items["question_id"] == "4.1"
    items.loc[flipped, "raw_points"] = [6.0 - order[s] for s in items.loc[flipped, "submission_id"]]
    analysis = item_analysis(items, "raw")
    assert analysis.loc["4.1", "item_rest"] < -0.5 < analysis["item_rest"].drop("4.1").median()


def test_agreement_by_question_against_a_grade_sheet(scored):
    items = {(i["submission_id"], i["question_id"]): i for i in scored.rows["item_scores"]}
    halves = [HumanGrade(submission_id=s, question_id="4.1", grader="g1", points=items[(s, "4.1")]["raw_points"] / 2)
              for s in ("s01", "s02", "s03", "s04", "s05", "s06")]  # fmt: skip
    exact = [HumanGrade(submission_id=s, question_id="10.1", grader=g, points=items[(s, "10.1")]["raw_points"])
             for s in ("s01", "s02", "s03") for g in ("g1", "g2")]  # fmt: skip
    table = open_results(scored.out).agreement(halves + exact)
    assert list(table.index) == ["4.1", "10.1"]
    judge = [items[(s, "4.1")]["raw_points"] for s in ("s01", "s02", "s03", "s04", "s05", "s06")]
    row = table.loc["4.1"]
    assert row["n"] == 6
    assert row["judge_minus_human"] == pytest.approx(statistics.mean(judge) / 2)
    assert row["human_mean"] == pytest.approx(statistics.mean(judge) / 2)
    if len(set(judge)) > 1:
        assert row["pearson"] == pytest.approx(1.0)
    assert (table.loc["10.1", "mae"], table.loc["10.1", "exact"], table.loc["10.1", "n"]) == (0.0, 1.0, 3)
    assert open_results(scored.out).agreement([]).empty


def test_agreement_without_a_sheet_reads_the_rounds_own_reviews(scored):
    """The review station's grades (current, not stale) are the human side when no sheet is given."""
    items = {(i["submission_id"], i["question_id"]): i for i in scored.rows["item_scores"]}
    round_id = scored.rows["item_scores"][0]["round_id"]

    def review(submission_id: str, reviewer: str, points: float, *, stale: bool = False) -> dict:
        return {
            "round_id": round_id, "submission_id": submission_id, "question_id": "4.1", "criterion_id": "c",
            "reviewer": reviewer, "points": points, "item_points": points, "mode": "review", "current": True,
            "stale": stale, "seq": 1,
        }  # fmt: skip

    rows = [review(s, "alice", 0.0) for s in ("s01", "s02", "s03")]
    rows.append(review("s04", "alice", 99.0, stale=True))  # its answer changed since: it does not count
    write_partition(scored.out, "human_reviews", round_id, rows)
    table = open_results(scored.out).agreement()
    judge = [items[(s, "4.1")]["raw_points"] for s in ("s01", "s02", "s03")]
    assert list(table.index) == ["4.1"] and table.loc["4.1", "n"] == 3
    assert table.loc["4.1", "human_mean"] == 0.0
    assert table.loc["4.1", "judge_minus_human"] == pytest.approx(statistics.mean(judge))


def test_agreement_on_the_panel_round_goes_through_the_rubric(panel):
    out, rows = panel
    rubric = PANEL.parent.parent / "rubric.yaml"
    table = open_results(out).agreement(PANEL / "human_grades.csv", rubric=rubric)
    exam = load_exam(rubric)
    maxima = {q.id: q.points for q in exam.questions}
    assert list(table.index) == sorted(table.index, key=natural_key) and len(table) == len(maxima)
    assert (table["human_mean"] <= table["max_points"]).all()
    assert table["max_points"].to_dict() == {q: maxima[q] for q in table.index}
    joined = {(g.submission_id, g.question_id) for g in load_human_grades(PANEL / "human_grades.csv")}
    judged = [r for r in rows["item_scores"] if (r["submission_id"], r["question_id"]) in joined
              and r["kind"] != "missing" and r["raw_points"] is not None]  # fmt: skip
    assert table["n"].sum() == len(judged)
    for question_id, row in table.iterrows():
        own = [r["raw_points"] for r in judged if r["question_id"] == question_id]
        assert row["judge_mean"] == pytest.approx(statistics.mean(own))
    with pytest.raises(Exception, match="worth"):
        open_results(out).agreement(PANEL / "human_grades.csv")  # criterion sums above the max without the rubric


def test_rounds_over_time_orders_rounds_by_when_they_were_scored(tmp_path):
    late = build_round(tmp_path / "out" / "a-late", round_id="a-late")
    early = build_round(tmp_path / "out" / "b-early", round_id="b-early", calibrated=True)
    moved = [r | {"scored_at": r["scored_at"] - timedelta(days=30)} for r in early.rows["submissions"]]
    write_partition(tmp_path / "out" / "b-early", "submissions", "b-early", moved)
    history = open_results(tmp_path / "out").rounds_over_time(points="raw")
    assert list(history.index) == ["b-early", "a-late"]
    row = history.loc["a-late"]
    totals = [s["raw_total"] for s in late.rows["submissions"] if s["raw_total"] is not None]
    assert (row["n_submissions"], row["n_rejected"], row["n_scored"]) == (7, 1, 6)
    assert row["mean_total"] == pytest.approx(statistics.mean(totals), abs=0.011)
    assert row["sd_total"] == pytest.approx(statistics.stdev(totals), abs=0.02)
    assert row["n_unscored_items"] == 1
    calls = late.rows["judge_calls"]
    assert row["judge_calls"] == len(calls)
    assert row["cache_hit_rate"] == pytest.approx(sum(c["cache_hit"] for c in calls) / len(calls))
    assert row["models"] == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    final = open_results(tmp_path / "out").rounds_over_time()
    calibrated_totals = [s["calibrated_total"] for s in early.rows["submissions"] if s["raw_total"] is not None]
    assert final.loc["b-early", "mean_total"] == pytest.approx(statistics.mean(calibrated_totals), abs=0.011)
    assert final.loc["a-late", "mean_total"] == history.loc["a-late", "mean_total"], "no calibration: final = raw"
