"""Review reasons → kinds: every sentence the producers write today lands in the kind it names."""

from __future__ import annotations

import pytest

from pipeline.reasons import ReviewKind, ReviewReason, classify, kinds_of


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("c1: unscored: call failed: judge unavailable: no answer from http://x/v1 for 300 s", "judge_unavailable"),
        ("c1: unscored: call failed: cannot reach http://127.0.0.1:4/v1/: Connection error.", "judge_error"),
        ("reply does not fit the schema (points: too big): '{}'", "judge_error"),
        ("possible prompt injection, removed before judging: ignore all previous", "injection"),
        ("nothing left to judge after removing text addressed to the grader", "injection"),
        ("the screen removed 80% of the answer: scored on the full text (2 point(s); 0 without it)", "injection"),
        ("unscored fast: not judged", "unscored"),
        ("code task find_impl: error: NameError: x", "code"),
        ("code task lis: timeout", "code"),
        ("heap: evidence not found in the answer ('x'); 1.5 point(s) withheld", "evidence"),
        ("metrics: 2 mention(s) not found in the answer, not counted: 'a', 'b'", "evidence"),
        ("confidence 0.42 below 0.75", "low_confidence"),
        ("calibration expects an error of 1.20 points (review above 0.80)", "calibration"),
        ("question 1.1 answered more than once; parts joined", "duplicate_answer"),
        ("judge asked for review", "other"),
    ],
)
def test_each_producer_sentence_has_its_kind(reason, kind):
    classified = classify(reason)
    assert classified.kind == ReviewKind(kind)
    assert classified.detail == reason  # the sentence is kept whole for the reader


def test_a_reason_that_knows_its_kind_passes_through():
    given = ReviewReason(kind=ReviewKind.CODE, detail="anything")
    assert classify(given) is given


def test_kinds_are_distinct_and_most_urgent_first():
    reasons = [classify(r) for r in ("confidence 0.1 below 0.75", "code task x: error", "confidence 0.2 below 0.75")]
    assert kinds_of(reasons) == [ReviewKind.CODE, ReviewKind.LOW_CONFIDENCE]
