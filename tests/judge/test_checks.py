"""Pure checks: verbatim evidence, short rationales, distinct mentions, median and agreement."""

from __future__ import annotations

import pytest

from pipeline.judge._checks import (
    MAX_CLAUSES,
    agreement,
    answer_clauses,
    combine,
    confidence,
    distinct_mentions,
    quote_in,
    two_sentences,
)
from rubric_schema import Criterion

ANSWER = "Use a  min-heap of size k.\nEach push costs O(log k)，所以总复杂度为 O(n log k)。"


@pytest.mark.parametrize(
    "quote",
    [
        "Use a min-heap of size k.",
        "use a MIN-HEAP   of size k",  # case and whitespace
        "“Use a min-heap of size k”",  # quoted by the judge
        "O(log k),所以总复杂度",  # full-width comma written half-width (NFKC)
        "Use a min-heap ... O(n log k)",  # elision, in order
        "Each push costs O(log k)…总复杂度为",
        "Each push cost O(log k)",  # a slip while copying ("costs"): still the answer's text
    ],
)
def test_quote_in_accepts_verbatim_quotes_after_normalisation(quote):
    assert quote_in(ANSWER, quote)


@pytest.mark.parametrize(
    "quote",
    [
        "",
        "   ",
        "...",
        "the candidate keeps k elements in a heap",
        "O(n log k) ... Use a min-heap",
        "a heap of size k, O(n log k)",
    ],
    ids=["empty", "blank", "only-ellipsis", "paraphrase", "out-of-order", "reference-not-answer"],
)
def test_quote_in_rejects_what_the_answer_does_not_say(quote):
    assert not quote_in(ANSWER, quote)


def test_two_sentences_cuts_long_rationales():
    assert two_sentences("One. Two. Three.") == "One. Two."
    assert two_sentences("第一句。第二句。第三句。") == "第一句。第二句。"
    assert two_sentences("Only O(n log k) here.") == "Only O(n log k) here."


def test_distinct_mentions_keeps_verbatim_ones_once():
    answer = "We monitor latency, error rate and GPU memory."
    kept, rejected = distinct_mentions(
        answer, ["latency", "Latency", "error rate", "throughput", "GPU memory"]
    )
    assert kept == ["latency", "error rate", "GPU memory"]
    assert rejected == ["throughput"]


def test_combine_takes_a_median_a_judge_gave():
    assert combine([1.0, 2.0, 2.0]) == 2.0
    assert combine([0.5, 1.5]) == 0.5  # even count: the lower middle, never an average nobody gave


def test_agreement_and_confidence():
    criterion = Criterion(id="c", title="t", points=4, earns_points_for="x")
    assert agreement(criterion, [2, 2, 2], 3) == 1.0
    assert agreement(criterion, [0, 4], 2) == 0.0
    assert agreement(criterion, [1, 2], 3) == pytest.approx(0.75 * 2 / 3)  # a failed sample counts against
    assert agreement(criterion, [], 3) == 0.0
    assert confidence([4, 1], [1.0, 0.0]) == 0.8


ZH_ANSWER = (
    "方法一：排序后取 nums[n-k]，时间 O(n log n)。方法二：维护大小为 k 的最小堆，遍历数组，堆满后比堆顶大就替换，"
    "最后堆顶就是第 k 大，时间 O(n log k)，空间 O(k)。\n"
    "Quickselect partitions around a pivot. It recurses into one side only!\n"
    + "".join(chr(0x4E00 + i) for i in range(95))  # one long run without a break
)


@pytest.mark.parametrize("max_chars", [12, 40, 200])
def test_answer_clauses_are_short_verbatim_pieces_that_cover_the_answer(max_chars):
    clauses = answer_clauses(ZH_ANSWER, max_chars)
    assert all(0 < len(c) <= max_chars for c in clauses)
    assert all(c in ZH_ANSWER and quote_in(ZH_ANSWER, c) for c in clauses)
    assert len(set(clauses)) == len(clauses)
    covered, whole = "".join("".join(clauses).split()), "".join(ZH_ANSWER.split())
    assert len(covered) >= 0.95 * len(whole)  # only stray fragments like "k]，" at a hard cut are left out


def test_answer_clauses_cut_at_sentences_first_then_commas():
    clauses = answer_clauses(ZH_ANSWER, 40)
    assert "方法一：排序后取 nums[n-k]，时间 O(n log n)。" in clauses
    assert "Quickselect partitions around a pivot." in clauses
    assert any(c.startswith("方法二：") and c.endswith("，") for c in clauses)  # a long sentence, cut at commas


def test_answer_clauses_offer_no_list_numbers_or_lone_characters():
    clauses = answer_clauses("1. 排序后取第 n-k 个。\n2. 用最小堆。\n是。\n(3) 快速选择", 40)
    assert clauses == ["1. 排序后取第 n-k 个。", "2. 用最小堆。", "(3) 快速选择"]


def test_answer_clauses_are_capped_and_deduplicated():
    assert answer_clauses("同一句。同一句。", 40) == ["同一句。"]
    assert answer_clauses("", 40) == [] and answer_clauses("   \n ", 40) == []
    many = "".join(f"第{i}句。" for i in range(MAX_CLAUSES + 50))
    assert len(answer_clauses(many, 40)) == MAX_CLAUSES
