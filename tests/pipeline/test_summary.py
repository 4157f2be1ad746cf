"""The closing summary: review grouped by kind, and a round the judge left incomplete said in one line."""

from __future__ import annotations

from pathlib import Path

from pipeline.reasons import ReviewKind, ReviewReason
from pipeline.store import CriterionScoreRow, ItemScoreRow, RoundRows, SubmissionRow
from pipeline.summary import summarize
from rubric_schema import parse_exam

EXAM = {
    "id": "mini",
    "title": "mini",
    "total_points": 4,
    "sections": [
        {
            "id": "s1",
            "title": "all",
            "points": 4,
            "questions": [
                {
                    "id": f"Q{n}",
                    "title": f"q{n}",
                    "prompt": "p",
                    "points": 2,
                    "criteria": [{"id": "c", "title": "c", "points": 2, "earns_points_for": "x"}],
                }
                for n in (1, 2)
            ],
        }
    ],
}
OUTAGE = "judge unavailable: no answer from http://judge/v1 for 300 s (cannot reach it)"
GONE = ReviewReason(kind=ReviewKind.JUDGE_UNAVAILABLE, detail=OUTAGE).under("c: unscored: call failed: ")


def _item(
    submission: str, question: str, points: float | None, kinds: list[str], reason: str = ""
) -> ItemScoreRow:
    return ItemScoreRow(
        submission_id=submission,
        question_id=question,
        kind="text",
        raw_points=points,
        needs_review=bool(kinds),
        review_reason=reason,
        review_kind=kinds[0] if kinds else None,
        review_kinds=kinds,
    )


def _summary(
    items: list[ItemScoreRow],
    criteria: list[CriterionScoreRow] | None = None,
    reasons: list[ReviewReason] | None = None,
):
    submissions = [
        SubmissionRow(submission_id=s, source_file=f"{s}.md", status="incomplete", status_reason="", raw_total=None)
        for s in sorted({i.submission_id for i in items})
    ]
    rows = RoundRows(
        submissions=submissions, item_scores=items, judge_calls=[], criterion_scores=criteria or [], executor_runs=[]
    )
    return summarize(parse_exam(EXAM, source=Path("mini.yaml")), "r1", rows, out_dir=Path("out"), reasons=reasons or [])


def test_review_is_counted_per_kind_not_per_fragment_of_text():
    summary = _summary(
        [
            _item("s1", "Q1", 1.0, ["evidence", "low_confidence"], "c: no evidence quoted; 1 point(s) withheld"),
            _item("s1", "Q2", 0.0, ["evidence"], "c: evidence not found in the answer ('x'); 1.5 point(s) withheld"),
            _item("s2", "Q1", 2.0, []),
        ]
    )
    assert summary.review_kinds == {"evidence": 2, "low_confidence": 1}
    assert summary.complete


def test_items_waiting_for_the_judge_are_one_line_not_one_per_item():
    refused = ReviewReason(kind=ReviewKind.JUDGE_ERROR, detail="HTTP 400 from judge")
    refused = refused.under("c: unscored: call failed: ")
    summary = _summary(
        [_item(s, q, None, ["judge_unavailable"], GONE.text) for s in ("s1", "s2", "s3") for q in ("Q1", "Q2")]
        + [_item("s4", "Q1", None, ["judge_error"], refused.text)],
        reasons=[refused] + [GONE] * 6,
    )
    assert not summary.complete
    assert summary.waiting_items == 6
    # the outage as the judge said it: the kind picks the reason, not its wording; its prefixes are not quoted
    assert summary.incomplete_line() == f"round r1 incomplete: 6 item(s) wait for the next run; {OUTAGE}"
    assert summary.failures == ["s4 Q1: c: unscored: call failed: HTTP 400 from judge"]


def test_waiting_is_read_from_the_kinds_not_from_the_wording():
    """A judge error whose text happens to name an outage leaves nothing waiting: only the kind counts."""
    odd = ReviewReason(kind=ReviewKind.JUDGE_ERROR, detail="HTTP 500: judge unavailable, says the proxy")
    summary = _summary([_item("s1", "Q1", None, ["judge_error"], odd.text)], reasons=[odd])
    assert summary.complete and summary.waiting_items == 0 and summary.waiting_reason == ""
    assert summary.failures == [f"s1 Q1: {odd.text}"]


def test_the_summary_says_how_the_judge_decided_its_criteria():
    """Score distributions, or generated verdicts (the mode asked for, or an endpoint without logprobs)."""
    key = {"submission_id": "s1", "question_id": "Q1", "criterion_id": "c"}
    criteria = [
        CriterionScoreRow(**key, source="judge", points=1.0, distribution='{"0": 0.5, "2": 0.5}'),
        CriterionScoreRow(**key, source="judge", points=2.0, distribution='{"0": 0.1, "2": 0.9}'),
        CriterionScoreRow(**key, source="judge", points=0.0, distribution=None),
        CriterionScoreRow(**key, source="judge", points=None, distribution=None),  # unscored: decided by nobody
        CriterionScoreRow(**key, source="rule", points=-1.0, distribution=None),
    ]
    summary = _summary([_item("s1", "Q1", 1.0, [])], criteria)
    assert (summary.judged_by_distribution, summary.judged_by_verdict) == (2, 1)
    assert summary.judge_path_line() == "judge: 2 criteria from score distributions, 1 from generated verdicts"
