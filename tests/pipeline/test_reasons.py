"""Review reasons as typed values: the kind a producer gives travels with the sentence as it is put in context."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.reasons import ReviewKind, ReviewReason, joined, kinds_of

OUTAGE = ReviewReason(kind=ReviewKind.JUDGE_UNAVAILABLE, detail="judge unavailable: no answer from http://x/v1")
BAD_REPLY = ReviewReason(kind=ReviewKind.JUDGE_ERROR, detail="reply does not fit the schema (points): '{}'")
LOW = ReviewReason(kind=ReviewKind.LOW_CONFIDENCE, detail="confidence 0.42 below 0.75")


def test_a_reason_reads_as_its_detail_until_it_is_put_in_context():
    assert OUTAGE.text == OUTAGE.detail and OUTAGE.line == ""


def test_prefixes_stack_in_front_and_keep_kind_and_detail():
    said = OUTAGE.under("call failed: ").under("c1: unscored: ").under("unscored ")
    assert said.text == "unscored c1: unscored: call failed: " + OUTAGE.detail
    assert (said.kind, said.detail) == (OUTAGE.kind, OUTAGE.detail)
    assert OUTAGE.text == OUTAGE.detail  # frozen: the original is untouched


def test_joined_reasons_read_in_order_and_take_the_most_urgent_kind_and_its_detail():
    both = joined([BAD_REPLY.under("call failed: "), OUTAGE.under("call failed: ")])
    assert both.text == f"call failed: {BAD_REPLY.detail}; call failed: {OUTAGE.detail}"
    assert (both.kind, both.detail) == (ReviewKind.JUDGE_UNAVAILABLE, OUTAGE.detail)
    assert joined([LOW]) is LOW


def test_joining_nothing_is_a_caller_error():
    with pytest.raises(ValueError):
        joined([])


@pytest.mark.parametrize("order", [[LOW, BAD_REPLY, LOW, OUTAGE], [OUTAGE, LOW, BAD_REPLY]])
def test_kinds_are_distinct_and_most_urgent_first_whatever_the_order(order):
    assert kinds_of(order) == [ReviewKind.JUDGE_UNAVAILABLE, ReviewKind.JUDGE_ERROR, ReviewKind.LOW_CONFIDENCE]
    assert kinds_of([]) == []


def test_a_kind_outside_the_enum_is_refused_and_a_reason_cannot_be_changed():
    with pytest.raises(ValidationError):
        ReviewReason(kind="judge is sad", detail="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        LOW.kind = ReviewKind.CODE  # type: ignore[misc]
