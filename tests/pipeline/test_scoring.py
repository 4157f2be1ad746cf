"""Scoring rules with hand-computed scores, on small rubrics that mirror the seed's questions."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pipeline.reasons import ReviewKind, ReviewReason
from pipeline.scoring import (
    NO_ANSWER,
    CriterionAward,
    judged_points,
    mention_points,
    score_exam,
    score_missing,
    score_question,
)
from rubric_schema import Exam, Question, load_exam, parse_exam

TOPK_TASK = {
    "id": "topk",
    "question_id": "1.1",
    "entrypoint": "kth_largest",
    "signature": "def kth_largest(nums: list[int], k: int) -> int",
    "max_complexity_exponent": 1.3,
}
ATTENTION_TASK = {
    "id": "attention",
    "question_id": "3.1",
    "entrypoint": "scaled_dot_product_attention",
    "signature": "def scaled_dot_product_attention(q, k, v, causal: bool = False)",
    "max_speed_ratio": 10,
}


def build(rubric, *questions, code_tasks=()) -> Exam:
    return parse_exam(rubric.exam(*questions, code_tasks=list(code_tasks)), source=Path("<test>"))


def awards(**points: float | None) -> dict[str, CriterionAward]:
    """Judge awards by criterion id (ids with '-' written with '_')."""
    return {cid.replace("_", "-"): CriterionAward(points=p) for cid, p in points.items()}


def rows_by_id(score) -> dict[str, float | None]:
    return {row.criterion_id: row.points for row in score.rows}


def assert_rows_add_up(score) -> None:
    assert score.raw_points is not None
    assert sum(row.points for row in score.rows) == pytest.approx(score.raw_points, abs=1e-9)


# --- 1.1: best two of three methods (2/3/3, cap 5), complexity 2, frequent queries 1, streaming +1 --------


def top_k(rubric, *, bonus_may_exceed_max: bool = False) -> Question:
    question = rubric.top_k_question(bonus_may_exceed_max=bonus_may_exceed_max)
    return build(rubric, question).question("1.1")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # sort 2 + heap 3 = 5 (the cap exactly), complexity 2, queries 1: 8
        ({"sort_ok": 2, "heap_ok": 3, "qs_ok": 0, "complexity": 2, "queries": 1, "streaming": 0}, 8),
        # heap 2.5 + sort 1 = 3.5, complexity 1, queries 0: 4.5
        ({"sort_ok": 1, "heap_ok": 2.5, "qs_ok": 0, "complexity": 1, "queries": 0, "streaming": 0}, 4.5),
        # only quickselect answered: 3 (1.1 has no cap for fewer methods) + 2 + 1 = 6
        ({"sort_ok": 0, "heap_ok": 0, "qs_ok": 3, "complexity": 2, "queries": 1, "streaming": 0}, 6),
        # nothing earned: 0
        ({"sort_ok": 0, "heap_ok": 0, "qs_ok": 0, "complexity": 0, "queries": 0, "streaming": 0}, 0),
    ],
)
def test_top_k_hand_computed(rubric, given, expected):
    score = score_question(top_k(rubric), awards(**given))
    assert score.raw_points == expected
    assert score.max_points == 8
    assert_rows_add_up(score)


def test_top_k_three_methods_count_the_best_two_under_the_cap(rubric):
    """Sort 2, heap 3, quickselect 3: heap + quickselect = 6, capped at 5; sort is not counted."""
    score = score_question(
        top_k(rubric), awards(sort_ok=2, heap_ok=3, qs_ok=3, complexity=2, queries=1, streaming=0)
    )
    assert score.raw_points == 8
    rows = rows_by_id(score)
    assert rows["methods:not-counted:sort"] == -2
    assert rows["methods:cap"] == -1
    assert_rows_add_up(score)


def test_top_k_best_two_are_chosen_by_points_not_order(rubric):
    """Sort 2, heap 1, quickselect 2.5: sort + quickselect = 4.5 count; heap's 1 does not."""
    score = score_question(
        top_k(rubric), awards(sort_ok=2, heap_ok=1, qs_ok=2.5, complexity=0, queries=0, streaming=0)
    )
    assert score.raw_points == 4.5
    assert rows_by_id(score)["methods:not-counted:heap"] == -1
    assert "methods:cap" not in rows_by_id(score)


@pytest.mark.parametrize(("may_exceed", "expected"), [(False, 8), (True, 9)])
def test_top_k_streaming_bonus_on_full_marks(rubric, may_exceed, expected):
    score = score_question(
        top_k(rubric, bonus_may_exceed_max=may_exceed),
        awards(sort_ok=2, heap_ok=3, qs_ok=0, complexity=2, queries=1, streaming=1),
    )
    assert score.raw_points == expected
    assert rows_by_id(score).get("bonus:cap") == (-1 if not may_exceed else None)
    assert_rows_add_up(score)


@pytest.mark.parametrize(("may_exceed", "expected"), [(False, 8), (True, 8.5)])
def test_top_k_bonus_partly_over_the_max(rubric, may_exceed, expected):
    """Regular 7.5 (methods 4.5, complexity 2, queries 1) + streaming 1."""
    score = score_question(
        top_k(rubric, bonus_may_exceed_max=may_exceed),
        awards(sort_ok=1.5, heap_ok=3, qs_ok=0, complexity=2, queries=1, streaming=1),
    )
    assert score.raw_points == expected
    assert_rows_add_up(score)


@pytest.mark.parametrize("may_exceed", [False, True])
def test_top_k_bonus_below_the_max_counts_in_full_either_way(rubric, may_exceed):
    """Regular 4.5 + streaming 1 = 5.5, under 8 whatever bonus_may_exceed_max says."""
    score = score_question(
        top_k(rubric, bonus_may_exceed_max=may_exceed),
        awards(sort_ok=1, heap_ok=2.5, qs_ok=0, complexity=1, queries=0, streaming=1),
    )
    assert score.raw_points == 5.5


# --- 3.2: two of four methods at 3.5 each, cap 7; one method answered → at most 4 ------------------------


def long_attention(rubric, *, idea: float = 1.5, cost: float = 1, tradeoff: float = 1) -> Question:
    c = rubric.criterion
    alternatives = [
        rubric.alternative(m, c(f"{m}-idea", idea), c(f"{m}-cost", cost), c(f"{m}-tradeoff", tradeoff))
        for m in ("sparse", "linear", "flash", "window")
    ]
    methods = rubric.group("methods", pick=2, cap=7, caps_when_fewer={1: 4}, alternatives=alternatives)
    return build(rubric, rubric.question("3.2", 7, groups=[methods])).question("3.2")


def method_awards(
    question: Question, per_method: dict[str, tuple[float, float, float]]
) -> dict[str, CriterionAward]:
    """(idea, cost, tradeoff) points per method; methods not named earn 0."""
    result = {}
    for alternative in question.groups[0].alternatives:
        for criterion, points in zip(
            alternative.criteria, per_method.get(alternative.id, (0, 0, 0)), strict=True
        ):
            result[criterion.id] = CriterionAward(points=points)
    return result


@pytest.mark.parametrize(
    ("per_method", "expected"),
    [
        ({"sparse": (1.5, 1, 1), "flash": (1.5, 1, 1)}, 7),  # 3.5 + 3.5
        ({"sparse": (1.5, 1, 1)}, 3.5),  # one method: 3.5, under the cap of 4
        ({"linear": (1, 0.5, 1), "window": (1, 0.5, 0)}, 4),  # 2.5 + 1.5
        ({"sparse": (1.5, 1, 1), "linear": (1.5, 1, 1), "flash": (1.5, 0, 1)}, 7),  # best two of three
        ({}, 0),
    ],
)
def test_long_attention_hand_computed(rubric, per_method, expected):
    question = long_attention(rubric)
    score = score_question(question, method_awards(question, per_method))
    assert score.raw_points == expected
    assert_rows_add_up(score)


def test_long_attention_third_method_is_shown_as_not_counted(rubric):
    question = long_attention(rubric)
    score = score_question(
        question,
        method_awards(question, {"sparse": (1.5, 1, 1), "linear": (1.5, 1, 1), "flash": (1.5, 0, 1)}),
    )
    assert rows_by_id(score)["methods:not-counted:flash"] == -2.5


@pytest.mark.parametrize(
    ("per_method", "expected", "cap_row"),
    [
        ({"sparse": (2, 1.5, 1)}, 4, -0.5),  # one method worth 4.5: at most 4
        ({"sparse": (2, 1, 0.5)}, 3.5, None),  # one method under 4: no cap
        ({"sparse": (2, 1.5, 1), "flash": (2, 1.5, 1)}, 7, -2),  # two methods: 9, capped at 7
        (
            {"sparse": (2, 1.5, 1), "flash": (0.5, 0, 0)},
            5,
            None,
        ),  # two answered: the cap of 4 no longer applies
    ],
)
def test_one_method_cap_binds_when_a_method_is_worth_more(rubric, per_method, expected, cap_row):
    """A variant of 3.2 with methods worth 4.5 (2 + 1.5 + 1), so "one method → at most 4" bites."""
    question = long_attention(rubric, idea=2, cost=1.5, tradeoff=1)
    score = score_question(question, method_awards(question, per_method))
    assert score.raw_points == expected
    assert rows_by_id(score).get("methods:cap") == cap_row
    assert_rows_add_up(score)


# --- 9.2: criteria worth 5 under 4 points; monitoring metrics 0.3 each, full at 3, 1 in all ----------------


def training_efficiency(rubric, *, full_at: int | None = 3) -> Question:
    c = rubric.criterion
    per_mention = {"points_each": 0.3} | ({"full_at": full_at} if full_at else {})
    criteria = [
        c("amp", 1.5),
        c("fp16", 1.5),
        c("ckpt", 1),
        c("metrics", 1, step=0.1, per_mention=per_mention),
    ]
    return build(rubric, rubric.question("9.2", 4, criteria=criteria)).question("9.2")


@pytest.mark.parametrize(("mentions", "expected"), [(0, 0), (1, 0.3), (2, 0.6), (3, 1), (5, 1), (-1, 0)])
def test_metrics_per_mention_full_at_three(rubric, mentions, expected):
    criterion = training_efficiency(rubric).criterion("metrics")
    assert mention_points(criterion, mentions) == pytest.approx(expected)


def test_judged_points_take_a_count_of_mentions_by_the_rule_and_other_points_within_the_criterion(rubric):
    """Issue 15: the judge reports mentions; this one rule turns them into points (the judge's own are ignored)."""
    question = training_efficiency(rubric)
    metrics, amp = question.criterion("metrics"), question.criterion("amp")
    assert judged_points(metrics, mentions=2) == pytest.approx(0.6)
    assert judged_points(metrics, 1.0, mentions=1) == pytest.approx(0.3)
    assert judged_points(metrics, 0.4) == 0.4  # a distribution's points, no count: as given
    assert (judged_points(amp, 2.0), judged_points(amp, -1.0)) == (1.5, 0.0)


@pytest.mark.parametrize(("mentions", "expected"), [(3, 0.9), (4, 1)])
def test_metrics_per_mention_without_full_at_stop_at_the_criterion_max(rubric, mentions, expected):
    question = training_efficiency(rubric, full_at=None)
    score = score_question(
        question, awards(amp=0, fp16=0, ckpt=0) | {"metrics": CriterionAward(points=0, mentions=mentions)}
    )
    assert score.raw_points == expected


def test_training_efficiency_hand_computed(rubric):
    """Amp 1.5 + fp16 1 + ckpt 0.5 + two metrics 0.6 = 3.6."""
    score = score_question(
        training_efficiency(rubric),
        awards(amp=1.5, fp16=1, ckpt=0.5) | {"metrics": CriterionAward(points=0.5, mentions=2)},
    )
    assert score.raw_points == 3.6
    assert rows_by_id(score)["metrics"] == 0.6  # the count decides, not the judge's points
    assert_rows_add_up(score)


def test_training_efficiency_full_criteria_are_capped_at_the_question(rubric):
    """1.5 + 1.5 + 1 + 1 = 5 under a 4-point question: 4, with the cap as its own row."""
    score = score_question(
        training_efficiency(rubric),
        awards(amp=1.5, fp16=1.5, ckpt=1) | {"metrics": CriterionAward(points=1, mentions=3)},
    )
    assert score.raw_points == 4
    assert rows_by_id(score)["question:cap"] == -1
    assert_rows_add_up(score)


def test_per_mention_without_a_count_uses_the_judges_points(rubric):
    score = score_question(training_efficiency(rubric), awards(amp=0, fp16=0, ckpt=0, metrics=0.6))
    assert score.raw_points == 0.6


# --- fractional points and out-of-range awards ------------------------------------------------------------


def fractional(rubric) -> Question:
    c = rubric.criterion
    criteria = [c("a", 1.5), c("b", 0.5), c("c", 0.3, step=0.1), c("d", 0.1, step=0.1), c("e", 0.2, step=0.1)]
    return build(rubric, rubric.question("4.2", 2.6, criteria=criteria)).question("4.2")


def test_fractional_points_add_exactly(rubric):
    score = score_question(fractional(rubric), awards(a=1.5, b=0.5, c=0.3, d=0.1, e=0.2))
    assert score.raw_points == 2.6  # not 2.6000000000000005
    score = score_question(fractional(rubric), awards(a=0, b=0, c=0, d=0.1, e=0.2))
    assert score.raw_points == 0.3


def test_awards_outside_a_criterion_are_clamped(rubric):
    score = score_question(fractional(rubric), awards(a=2.5, b=-1, c=0.3, d=0, e=0))
    assert rows_by_id(score)["a"] == 1.5
    assert rows_by_id(score)["b"] == 0
    assert score.raw_points == 1.8


# --- code criteria ----------------------------------------------------------------------------------------


def coded(rubric, answer_kind: str, checks: list[str], *, points: float = 2, task: str = "topk") -> Question:
    impl = rubric.criterion("impl", points, answer_kind=answer_kind, code={"task": task, "checks": checks})
    question_id = "1.1" if task == "topk" else "3.1"
    question = rubric.question(question_id, points + 1, criteria=[impl, rubric.criterion("explain", 1)])
    return build(
        rubric,
        question,
        code_tasks=[TOPK_TASK | {"question_id": question_id}, ATTENTION_TASK | {"question_id": question_id}],
    ).question(question_id)


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ({"correct": True, "complexity": True}, 2),
        ({"correct": True, "complexity": False}, 1),  # each check an equal share
        ({"correct": False, "complexity": True}, 1),
        ({"correct": False, "complexity": False}, 0),
        ({"correct": True}, 1),  # a check with no result does not pass
        (None, 0),  # no code ran (no code in the answer)
    ],
)
def test_code_criterion_earns_a_share_per_passed_check(rubric, checks, expected):
    question = coded(rubric, "code", ["correct", "complexity"])
    score = score_question(question, awards(explain=1), {"topk": checks} if checks is not None else {})
    impl = next(r for r in score.rows if r.criterion_id == "impl")
    assert (impl.points, impl.source) == (expected, "executor")
    assert score.raw_points == expected + 1


def test_code_criterion_ignores_the_judge(rubric):
    question = coded(rubric, "code", ["correct"])
    score = score_question(question, awards(impl=2, explain=0), {"topk": {"correct": False}})
    assert score.raw_points == 0


def test_speed_check_share(rubric):
    question = coded(rubric, "code", ["correct", "speed"], task="attention", points=3)
    score = score_question(question, awards(explain=0), {"attention": {"correct": True, "speed": False}})
    assert score.raw_points == 1.5


@pytest.mark.parametrize(
    ("judged", "checks", "expected", "source"),
    [
        (1, {"correct": True, "complexity": True}, 2, "executor"),  # code better than the judge
        (1.5, {"correct": False, "complexity": False}, 1.5, "judge"),  # judge better than the code
        (0.5, {"correct": True, "complexity": False}, 1, "executor"),  # half the checks beat 0.5
        (1.5, {"correct": True, "complexity": False}, 1.5, "judge"),
    ],
)
def test_both_kinds_take_the_better_of_judge_and_code(rubric, judged, checks, expected, source):
    question = coded(rubric, "both", ["correct", "complexity"])
    score = score_question(question, awards(impl=judged, explain=0), {"topk": checks})
    impl = next(r for r in score.rows if r.criterion_id == "impl")
    assert (impl.points, impl.source) == (expected, source)


def test_both_kinds_unscored_judge_is_covered_by_full_code(rubric):
    question = coded(rubric, "both", ["correct"])
    timed_out = ReviewReason(kind=ReviewKind.JUDGE_ERROR, detail="judge timed out")
    unscored = {"impl": CriterionAward(points=None, reason=timed_out), **awards(explain=1)}
    assert score_question(question, unscored, {"topk": {"correct": True}}).raw_points == 3
    partial = score_question(question, unscored, {"topk": {"correct": False}})
    assert partial.raw_points is None
    assert [(r.kind, r.text) for r in partial.unscored_reasons] == [(ReviewKind.JUDGE_ERROR, "impl: judge timed out")]


# --- unscored and missing ---------------------------------------------------------------------------------


def test_unscored_criterion_leaves_the_question_unscored_not_zero(rubric):
    question = fractional(rubric)
    given = awards(a=1.5, b=0.5, c=0.3, d=0.1) | {
        "e": CriterionAward(points=None, reason=ReviewReason(kind=ReviewKind.JUDGE_ERROR, detail="reply was not JSON"))
    }
    score = score_question(question, given)
    assert score.raw_points is None
    assert rows_by_id(score)["e"] is None
    # the award's kind travels with its criterion in front of the sentence
    assert [(r.kind, r.detail, r.text) for r in score.unscored_reasons] == [
        (ReviewKind.JUDGE_ERROR, "reply was not JSON", "e: reply was not JSON")
    ]


def test_criterion_never_judged_is_unscored_with_a_reason(rubric):
    score = score_question(fractional(rubric), awards(a=1.5, b=0.5, c=0.3, d=0.1))
    assert score.raw_points is None
    assert [(r.kind, r.text) for r in score.unscored_reasons] == [(ReviewKind.UNSCORED, "e: not judged")]


def test_unscored_group_criterion_leaves_the_question_unscored(rubric):
    question = long_attention(rubric)
    given = method_awards(question, {"sparse": (1.5, 1, 1)})
    given["flash-cost"] = CriterionAward(points=None)
    assert score_question(question, given).raw_points is None


def test_missing_question_scores_zero_with_reason_no_answer(rubric):
    score = score_missing(top_k(rubric))
    assert score.raw_points == 0
    assert [(r.criterion_id, r.points, r.source, r.rationale) for r in score.rows] == [
        ("no-answer", 0, "rule", NO_ANSWER)
    ]
    assert NO_ANSWER == "no answer"


def test_exam_sums_scored_questions_lists_unscored_and_zeroes_missing(rubric):
    c = rubric.criterion
    exam = build(
        rubric,
        rubric.question("1.1", 3),
        rubric.question("1.2", 2, criteria=[c("x", 2)]),
        rubric.question("2.1", 5),
    )
    scored = {
        "1.1": score_question(exam.question("1.1"), {"q1.1-all": CriterionAward(points=2.5)}),
        "1.2": score_question(exam.question("1.2"), {"x": CriterionAward(points=None)}),
    }
    result = score_exam(exam, scored)
    assert result.raw_total == 2.5
    assert result.max_total == 10
    assert result.unscored == ["1.2"]
    assert [q.question_id for q in result.questions] == ["1.1", "1.2", "2.1"]
    assert result.questions[2].raw_points == 0
    assert result.questions[2].rows[0].rationale == NO_ANSWER


# --- properties over random awards ------------------------------------------------------------------------


def mirror_exam(rubric) -> Exam:
    """1.1 (with a code criterion), 3.2, 9.2 and fractional points in one exam."""
    c = rubric.criterion
    impl = c("impl", 2, answer_kind="both", code={"task": "topk", "checks": ["correct", "complexity"]})
    q11 = rubric.top_k_question(extra=(impl,))
    q11b = rubric.top_k_question("1.3", bonus_may_exceed_max=True)
    methods32 = rubric.group(
        "methods",
        pick=2,
        cap=7,
        caps_when_fewer={1: 4},
        alternatives=[
            rubric.alternative(m, c(f"{m}-idea", 2), c(f"{m}-cost", 1.5), c(f"{m}-tradeoff", 1))
            for m in ("sparse", "linear", "flash", "window")
        ],
    )
    q32 = rubric.question("3.2", 7, groups=[methods32])
    q92 = rubric.question(
        "9.2",
        4,
        criteria=[
            c("amp", 1.5),
            c("fp16", 1.5),
            c("ckpt", 1),
            c("metrics", 1, step=0.1, per_mention={"points_each": 0.3, "full_at": 3}),
        ],
    )
    q42 = rubric.question("4.2", 2.3, criteria=[c("a", 1.5), c("b", 0.5), c("c", 0.3, step=0.1)])
    return build(rubric, q11, q11b, q32, q92, q42, code_tasks=[TOPK_TASK])


def random_awards(rng: random.Random, question: Question) -> dict[str, CriterionAward]:
    given = {}
    for criterion in question.all_criteria():
        points = (
            round(rng.uniform(0, criterion.points) / 0.1) * 0.1
            if rng.random() > 0.3
            else rng.choice([0, criterion.points])
        )
        mentions = rng.randint(0, 5) if criterion.per_mention and rng.random() > 0.5 else None
        given[criterion.id] = CriterionAward(points=points, mentions=mentions)
    return given


def random_checks(rng: random.Random) -> dict[str, dict[str, bool]]:
    return (
        {"topk": {"correct": rng.random() > 0.5, "complexity": rng.random() > 0.5}}
        if rng.random() > 0.3
        else {}
    )


def test_rows_always_add_up_to_the_raw_points_within_bounds(rubric):
    exam = mirror_exam(rubric)
    rng = random.Random(20260101)
    for _ in range(300):
        for question in exam.questions:
            score = score_question(question, random_awards(rng, question), random_checks(rng))
            assert_rows_add_up(score)
            ceiling = question.points + (question.bonus_points if question.bonus_may_exceed_max else 0)
            assert 0 <= score.raw_points <= ceiling + 1e-9, (question.id, score)
            assert score.raw_points == round(score.raw_points, 2)


def test_raising_one_award_never_lowers_the_score(rubric):
    exam = mirror_exam(rubric)
    rng = random.Random(7)
    for _ in range(200):
        for question in exam.questions:
            given, checks = random_awards(rng, question), random_checks(rng)
            before = score_question(question, given, checks).raw_points
            criterion = rng.choice(question.all_criteria())
            old = given[criterion.id]
            given[criterion.id] = CriterionAward(
                points=min(criterion.points, old.points + 0.5),
                mentions=None if old.mentions is None else old.mentions + 1,
            )
            assert score_question(question, given, checks).raw_points >= before - 1e-9, (
                question.id,
                criterion.id,
            )


# --- the seed rubric --------------------------------------------------------------------------------------


def seed_question(seed_rubric: Path, question_id: str) -> Question:
    return load_exam(seed_rubric).question(question_id)


def full_awards(question: Question) -> dict[str, CriterionAward]:
    return {
        c.id: CriterionAward(points=c.points, mentions=(c.per_mention.full_at if c.per_mention else None))
        for c in question.all_criteria()
    }


def test_seed_points_per_question(seed_rubric):
    exam = load_exam(seed_rubric)
    assert [q.points for q in exam.questions] == [8, 7, 10, 8, 7, 6, 6, 4, 4, 6, 4, 4, 4, 4, 3, 6, 4, 5]
    assert exam.total_points == 100


def seed_awards(question: Question, **points: float) -> dict[str, CriterionAward]:
    """Every criterion of a seed question judged: the named ones at the given points, the others 0."""
    unknown = set(points) - {c.id for c in question.all_criteria()}
    assert not unknown, f"the seed's {question.id} has no criteria {unknown}"
    return {c.id: CriterionAward(points=points.get(c.id, 0)) for c in question.all_criteria()}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # two methods (2 + 3), complexity 2, queries 1, streaming +1: 9, but the bonus may not pass 8
        ({"sort_method": 2, "heap_method": 3, "complexity": 2, "frequent_queries": 1, "streaming": 1}, 8),
        # three methods: heap 3 + quickselect 3 = 6 → cap 5; complexity 1: 6
        ({"sort_method": 2, "heap_method": 3, "quickselect_method": 3, "complexity": 1}, 6),
        # one partial method and the bonus: 2 + 1
        ({"heap_method": 2, "streaming": 1}, 3),
    ],
)
def test_seed_top_k(seed_rubric, given, expected):
    question = seed_question(seed_rubric, "1.1")
    score = score_question(question, seed_awards(question, **given))
    assert score.raw_points == expected
    assert_rows_add_up(score)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {
                "sparse_idea": 1.5,
                "sparse_complexity": 1,
                "sparse_tradeoffs": 1,
                "flash_idea": 1.5,
                "flash_complexity": 1,
                "flash_tradeoffs": 1,
            },
            7,
        ),
        (
            {"flash_idea": 1.5, "flash_complexity": 1, "flash_tradeoffs": 1},
            3.5,
        ),  # one method: under its cap of 4
        (
            {
                "sparse_idea": 1.5,
                "sparse_complexity": 1,
                "sparse_tradeoffs": 1,
                "window_idea": 1,
                "window_complexity": 0.5,
            },
            5,
        ),
        (
            {
                "sparse_idea": 1.5,
                "sparse_complexity": 1,
                "sparse_tradeoffs": 1,
                "linear_idea": 1.5,
                "linear_complexity": 1,
                "linear_tradeoffs": 1,
                "flash_idea": 1.5,
            },
            7,
        ),  # best two of three
    ],
)
def test_seed_long_attention(seed_rubric, given, expected):
    question = seed_question(seed_rubric, "3.2")
    score = score_question(question, seed_awards(question, **given))
    assert score.raw_points == expected
    assert_rows_add_up(score)


def test_seed_training_efficiency(seed_rubric):
    question = seed_question(seed_rubric, "9.2")
    full = seed_awards(question, mixed_precision=1.5, loss_scaling=1.5, grad_checkpointing=1)
    full["monitoring_metrics"] = CriterionAward(points=0, mentions=3)
    assert score_question(question, full).raw_points == 4  # 5 of criteria under a 4-point question
    partial = seed_awards(question, mixed_precision=1.5, loss_scaling=1)
    partial["monitoring_metrics"] = CriterionAward(points=0, mentions=2)
    assert score_question(question, partial).raw_points == 3.1  # 1.5 + 1 + 2 × 0.3


def test_seed_full_marks_are_100_and_no_answers_are_0(seed_rubric):
    exam = load_exam(seed_rubric)
    full = {q.id: score_question(q, full_awards(q)) for q in exam.questions}
    assert score_exam(exam, full).raw_total == 100
    assert score_exam(exam, {}).raw_total == 0


def test_all_checks_award_gives_nothing_unless_every_check_passes() -> None:
    """A correct but O(n^2) LIS earns nothing of an "O(n log n)" criterion (seed 1.2, award: all)."""
    from rubric_schema import CodeRef, Criterion

    criterion = Criterion(
        id="nlogn", title="n log n", points=3, answer_kind="code", earns_points_for="x",
        code=CodeRef(task="lis", checks=["correct", "complexity"], award="all"),
    )
    from pipeline.scoring import code_points

    assert code_points(criterion, {"correct": True, "complexity": False}) == 0.0
    assert code_points(criterion, {"correct": True, "complexity": True}) == 3.0
