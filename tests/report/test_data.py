"""Each report section's numbers, checked against the fixture rows computed in plain Python."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from pipeline.report import ReportError, load_report_data, natural_key, pick_round
from pipeline.store import write_partition

REJECTED_REASON = "unsupported file type '.pdf'"


def _questions(scored) -> dict:
    return {q.question_id: q for q in load_report_data(scored.out, scored.round_id).questions}


def test_summary_counts_statuses_and_lists_rejected_files(scored_round):
    summary = load_report_data(scored_round.out, scored_round.round_id).summary
    rows = scored_round.rows["submissions"]
    assert summary.n_submissions == len(rows) == 7
    expected = defaultdict(int)
    for row in rows:
        expected[row["status"]] += 1
    assert summary.statuses == dict(expected)
    assert [(r.submission_id, r.reason) for r in summary.rejected] == [("scan", REJECTED_REASON)]
    assert summary.max_total == 100.0


def test_totals_leave_rejected_files_out(scored_round):
    summary = load_report_data(scored_round.out, scored_round.round_id).summary
    expected = sorted(r["raw_total"] for r in scored_round.rows["submissions"] if r["status"] != "rejected")
    assert sorted(summary.raw_totals) == expected
    assert len(expected) == 6
    assert summary.calibrated_totals == []


def test_question_stats_are_mean_and_sd_of_points_over_max(scored_round):
    questions = _questions(scored_round)
    fractions = defaultdict(list)
    for row in scored_round.rows["item_scores"]:
        if row["raw_points"] is not None:
            fractions[row["question_id"]].append(row["raw_points"] / row["max_points"])
    assert set(questions) == set(fractions) and len(questions) == 18
    for qid, values in fractions.items():
        assert questions[qid].n == len(values)
        assert questions[qid].raw_mean == pytest.approx(statistics.mean(values))
        assert questions[qid].raw_sd == pytest.approx(statistics.stdev(values))
        assert questions[qid].calibrated_mean is None


def test_unscored_item_is_counted_apart_not_averaged_as_zero(scored_round):
    q = _questions(scored_round)["3.2"]
    scored = [r["raw_points"] / 7 for r in scored_round.rows["item_scores"]
              if r["question_id"] == "3.2" and r["raw_points"] is not None]
    assert (q.n, q.n_unscored) == (5, 1)
    assert q.raw_mean == pytest.approx(sum(scored) / 5)


def test_missing_answers_count_as_zero_and_are_reported(scored_round):
    q = _questions(scored_round)["10.1"]
    assert (q.n, q.n_missing, q.n_unscored) == (6, 1, 0)


def test_questions_are_in_numeric_order(scored_round):
    ids = [q.question_id for q in load_report_data(scored_round.out, scored_round.round_id).questions]
    assert ids[:3] == ["1.1", "1.2", "2.1"]
    assert ids[-1] == "10.1"


def test_criterion_hit_rates_match_the_rows(scored_round):
    criteria = load_report_data(scored_round.out, scored_round.round_id).criteria
    expected: dict[tuple[str, str], list] = defaultdict(list)
    for row in scored_round.rows["criterion_scores"]:
        if row["source"] != "rule":
            expected[(row["question_id"], row["criterion_id"])].append(row)
    assert {(c.question_id, c.criterion_id) for c in criteria} == set(expected)
    for c in criteria:
        rows = expected[(c.question_id, c.criterion_id)]
        scored = [r["points"] for r in rows if r["points"] is not None]
        assert c.n == len(scored)
        assert c.n_unscored == len(rows) - len(scored)
        assert c.hits == sum(1 for p in scored if p > 0)
        assert c.hit_rate == pytest.approx(c.hits / len(scored))
        assert c.full == sum(1 for p in scored if p == rows[0]["max_points"])
        assert c.mean_fraction == pytest.approx(statistics.mean(p / rows[0]["max_points"] for p in scored))
    assert 0 < sum(c.hits for c in criteria) < sum(c.n for c in criteria)


def test_rule_adjustments_are_not_criteria(scored_round):
    ids = {c.criterion_id for c in load_report_data(scored_round.out, scored_round.round_id).criteria}
    assert "question:cap" not in ids and "no-answer" not in ids
    assert any(r["criterion_id"] == "question:cap" for r in scored_round.rows["criterion_scores"])


def test_code_stats_per_task(scored_round):
    code = {t.task_id: t for t in load_report_data(scored_round.out, scored_round.round_id).code}
    runs = scored_round.rows["executor_runs"]
    assert list(code) == ["topk", "lis", "union_find", "attention", "train_loop"]
    attention = [r for r in runs if r["task_id"] == "attention"]
    ratios = sorted(r["speed_ratio"] for r in attention if r["speed_ratio"] is not None)
    assert code["attention"].speed_ratios == ratios and len(ratios) == 6
    assert code["attention"].median_speed_ratio == pytest.approx(statistics.median(ratios))
    assert code["attention"].max_speed_ratio == max(ratios)
    assert code["attention"].n_passed == sum(1 for r in attention if r["passed"])
    assert code["union_find"].n_errors == 1  # s03 timed out
    assert code["union_find"].n_submissions == 6
    assert code["train_loop"].n_submissions == 5  # s04 did not answer 10.1
    topk = [r["complexity_exponent"] for r in runs if r["task_id"] == "topk"]
    assert code["topk"].median_complexity == pytest.approx(statistics.median(topk))
    assert code["topk"].speed_ratios == [] and code["topk"].median_speed_ratio is None


def test_review_queue_puts_injections_then_unscored_then_low_confidence_first(scored_round):
    queue = load_report_data(scored_round.out, scored_round.round_id).review
    flagged = [r for r in scored_round.rows["item_scores"] if r["needs_review"]]
    assert len(queue) == len(flagged) >= 3
    first, second = queue[0], queue[1]
    assert (first.submission_id, first.question_id, first.injection_suspected) == ("s05", "5.1", True)
    assert (second.submission_id, second.question_id, second.raw_points) == ("s06", "3.2", None)
    confidences = [q.confidence for q in queue[2:]]
    assert confidences == sorted(confidences)
    assert queue[1].reasons == ["unscored 3.2-c2: judge reply did not parse"]


def test_review_queue_carries_the_quoted_evidence(scored_round):
    first = load_report_data(scored_round.out, scored_round.round_id).review[0]
    assert first.evidence[0].criterion_id == "5.1-c1"
    assert first.evidence[0].evidence.startswith("<script>")
    assert first.evidence[0].evidence_verified is False


def test_provenance_names_rubric_model_prompt_and_versions(scored_round):
    p = load_report_data(scored_round.out, scored_round.round_id).provenance
    calls = scored_round.rows["judge_calls"]
    assert p.rubric_shas == [calls[0]["rubric_sha"]]
    assert p.prompt_shas == [calls[0]["prompt_sha"]]
    assert p.gradeflow_versions == ["0.1.0"]
    (model,) = p.models
    assert model.model == calls[0]["model"]
    assert model.calls == len(calls)
    assert model.cache_hits == sum(1 for c in calls if c["cache_hit"])
    assert model.errors == 1
    assert p.calibration_ids == [] and p.calibration_fits == []


def test_calibrated_points_and_fits_are_reported_when_present(calibrated_round):
    data = load_report_data(calibrated_round.out, calibrated_round.round_id)
    values = [r["calibrated_points"] / r["max_points"] for r in calibrated_round.rows["item_scores"]
              if r["question_id"] == "1.1"]
    q11 = data.questions[0]
    assert q11.calibrated_mean == pytest.approx(statistics.mean(values))
    assert len(data.summary.calibrated_totals) == 6
    assert data.provenance.calibration_ids == ["cal-1"]
    assert len(data.provenance.calibration_fits) == 18


def test_empty_round_gives_empty_sections(empty_round):
    data = load_report_data(empty_round.out, empty_round.round_id)
    assert data.summary.n_submissions == 0 and data.summary.raw_totals == []
    assert data.questions == data.criteria == data.code == data.review == []
    assert data.provenance.models == [] and data.provenance.rubric_shas == []


def test_other_rounds_in_the_same_folder_are_not_mixed_in(scored_round):
    write_partition(scored_round.out, "submissions", "r0", [
        {"round_id": "r0", "submission_id": "old", "status": "scored", "raw_total": 1.0,
         "scored_at": datetime(2026, 1, 1, tzinfo=UTC)}])
    data = load_report_data(scored_round.out, "r1")
    assert data.summary.n_submissions == 7


def test_pick_round_prefers_the_round_scored_last(scored_round):
    write_partition(scored_round.out, "submissions", "r0", [
        {"round_id": "r0", "submission_id": "old", "status": "scored",
         "scored_at": datetime(2026, 1, 1, tzinfo=UTC)}])
    assert pick_round(scored_round.out, None) == "r1"
    assert pick_round(scored_round.out, "r0") == "r0"


def test_pick_round_names_the_rounds_when_the_one_asked_for_is_absent(scored_round):
    with pytest.raises(ReportError, match=r"round 'nope' was never scored here \(rounds: r1\)"):
        pick_round(scored_round.out, "nope")


def test_pick_round_on_a_folder_without_rounds(tmp_path):
    with pytest.raises(ReportError, match="no such folder"):
        pick_round(tmp_path / "absent", None)
    with pytest.raises(ReportError, match="nothing was scored here"):
        pick_round(tmp_path, None)


def test_natural_key_orders_question_ids_numerically():
    assert sorted(["10.1", "2.1", "1.2", "1.10", "003", "b"], key=natural_key) == [
        "1.2", "1.10", "2.1", "003", "10.1", "b"]
