"""Pure checks: verbatim evidence, short rationales, distinct mentions, median and agreement."""

from __future__ import annotations

import pytest

from pipeline.judge._checks import agreement, combine, confidence, distinct_mentions, quote_in, two_sentences
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
