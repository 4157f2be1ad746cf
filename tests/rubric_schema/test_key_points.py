"""Key points: the parts a criterion's text enumerates, and the ones a rubric lists."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rubric_schema import MAX_KEY_POINTS, Criterion, enumerated_points


@pytest.mark.parametrize(
    ("text", "points"),
    [
        ("栈是后进先出；队列是先进先出。", ["栈是后进先出", "队列是先进先出"]),
        ("(1) 栈是后进先出 (2) 队列是先进先出", ["栈是后进先出", "队列是先进先出"]),
        ("Steps: 1. compile the code 2. run the tests", ["Steps: compile the code", "Steps: run the tests"]),
        ("It compiles. Then it runs in O(n log n) time, e.g. with a heap.", [
            "It compiles", "Then it runs in O(n log n) time, e.g. with a heap"]),
        # a header before a list is kept with each of its parts, so each reads on its own
        ("链表：①元素不必相邻；②需要指针。", ["链表：元素不必相邻", "链表：需要指针"]),
    ],
)
def test_enumerated_texts_split_into_their_points(text, points):
    assert enumerated_points(text) == points


@pytest.mark.parametrize(
    "text",
    [
        "To simulate the behaviour of portions of the desired software product.",  # one statement
        "数值不稳定（log(0)、除零、exp 溢出）时 loss 变成 NaN",  # log(0) is no enumerator
        "dp[i] = max(dp[j] + 1)，版本 1.5 起支持",  # "+ 1)" and "1.5" are no enumerators
        "；".join(f"第{i}个细节说明" for i in range(MAX_KEY_POINTS + 1)),  # details, not key points
    ],
)
def test_texts_that_state_one_thing_or_list_details_are_not_split(text):
    assert enumerated_points(text) == []


def _criterion(**fields) -> Criterion:
    return Criterion.model_validate({"id": "c", "title": "C", "points": 2, "earns_points_for": "x", **fields})


def test_listed_key_points_come_before_the_enumerated_ones():
    enumerated = _criterion(earns_points_for="说明原因；给出例子")
    assert enumerated.judged_key_points == ["说明原因", "给出例子"]
    listed = _criterion(earns_points_for="说明原因；给出例子", key_points=["原因", "例子", "反例"])
    assert listed.judged_key_points == ["原因", "例子", "反例"]
    assert _criterion(earns_points_for="说明原因").judged_key_points == []


def test_a_per_mention_criterion_is_counted_not_split():
    counted = _criterion(earns_points_for="说出指标：准确率；召回率", per_mention={"points_each": 1})
    assert counted.judged_key_points == []
    with pytest.raises(ValidationError, match="per-mention"):
        _criterion(key_points=["a", "b"], per_mention={"points_each": 1})


def test_one_listed_key_point_is_refused():
    with pytest.raises(ValidationError, match="two or more"):
        _criterion(key_points=["the whole criterion"])
