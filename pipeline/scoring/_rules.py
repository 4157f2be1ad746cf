"""The rubric's rules as pure functions: awarded criterion points (and code checks) → question and exam totals.

Every adjustment a rule makes (a group cap, an alternative not counted, the question cap, a bonus cap)
is its own row with source "rule", so the rows of a question always add up to its raw points.
An unscored criterion (the judge failed) leaves the question unscored: never a silent zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.reasons import ReviewKind, ReviewReason
from rubric_schema import ChoiceGroup, CodeCheckName, Criterion, Exam, Question

Source = Literal["judge", "executor", "rule"]
NO_ANSWER = "no answer"
NOT_JUDGED = ReviewReason(kind=ReviewKind.UNSCORED, detail="not judged")
"""The reason of a judged criterion without a verdict that says none of its own."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CriterionAward(_Frozen):
    """What the judge gave one criterion; `points` None means unscored (with a reason)."""

    points: float | None
    mentions: int | None = None
    """For per-mention criteria: how many distinct valid mentions the judge counted."""
    evidence: str = ""
    evidence_verified: bool = False
    rationale: str = ""
    reason: ReviewReason | None = None
    """Why points were withheld or the criterion is unscored, of the kind its producer knows."""
    expected_points: float | None = None
    """A distribution judge's expected points before snapping to the step (None for a generated verdict)."""
    distribution: dict[str, float] | None = None
    """A distribution judge's probability of each points value (keys: the points as text)."""


class CriterionScore(_Frozen):
    """One row of a question's score: a criterion's points, or a rule's adjustment."""

    criterion_id: str
    points: float | None
    max_points: float
    source: Source
    evidence: str = ""
    evidence_verified: bool = False
    rationale: str = ""
    expected_points: float | None = None
    distribution: dict[str, float] | None = None


class QuestionScore(_Frozen):
    """A question's raw score; `raw_points` None when any counted criterion is unscored."""

    question_id: str
    max_points: float
    raw_points: float | None
    rows: list[CriterionScore]
    unscored_reasons: list[ReviewReason] = Field(default_factory=list)
    """Why each unscored criterion is (its id in front), of the kind the award's reason has."""


class ExamScore(_Frozen):
    """A submission's raw total over scored questions, and which questions are unscored."""

    raw_total: float
    max_total: float
    questions: list[QuestionScore]
    unscored: list[str]


def _round(points: float) -> float:
    return round(points + 0.0, 2)


def code_points(criterion: Criterion, checks: Mapping[CodeCheckName, bool] | None) -> float:
    """Each required check that passed earns an equal share (or all are needed); no result earns nothing."""
    if criterion.code is None or not checks:
        return 0.0
    required = criterion.code.checks
    passed = sum(1 for name in required if checks.get(name, False))
    if criterion.code.award == "all":
        return criterion.points if passed == len(required) else 0.0
    return criterion.points * passed / len(required)


def mention_points(criterion: Criterion, mentions: int) -> float:
    """Per-mention criteria: points for each mention, full points from `full_at` mentions on."""
    assert criterion.per_mention is not None
    if criterion.per_mention.full_at is not None and mentions >= criterion.per_mention.full_at:
        return criterion.points
    return min(criterion.points, criterion.per_mention.points_each * max(mentions, 0))


def judged_points(criterion: Criterion, points: float | None = None, *, mentions: int | None = None) -> float:
    """The points a judge's verdict earns under the rubric: a per-mention criterion's from the count of
    mentions the judge reports, any other's as the judge gave them, within 0 and the criterion's points.
    """
    if criterion.per_mention is not None and mentions is not None:
        return mention_points(criterion, mentions)
    assert points is not None, f"{criterion.id}: a verdict without points or mentions"
    return min(max(points, 0.0), criterion.points)


def criterion_score(
    criterion: Criterion,
    award: CriterionAward | None,
    code_checks: Mapping[str, Mapping[CodeCheckName, bool]],
) -> tuple[CriterionScore, ReviewReason | None]:
    """Points for one criterion, from the judge, the executor, or both (the better of the two)."""
    from_code = code_points(criterion, code_checks.get(criterion.code.task) if criterion.code else None)
    if criterion.answer_kind == "code":
        row = CriterionScore(
            criterion_id=criterion.id,
            points=_round(from_code),
            max_points=criterion.points,
            source="executor",
        )
        return row, None
    if award is None or award.points is None:
        reason = (award.reason if award else None) or NOT_JUDGED
        if criterion.answer_kind == "both" and from_code >= criterion.points:
            # The code alone earns everything; a missing verdict cannot change that.
            row = CriterionScore(
                criterion_id=criterion.id,
                points=_round(from_code),
                max_points=criterion.points,
                source="executor",
            )
            return row, None
        row = CriterionScore(
            criterion_id=criterion.id, points=None, max_points=criterion.points, source="judge"
        )
        return row, reason.under(f"{criterion.id}: ")
    judged = judged_points(criterion, award.points, mentions=award.mentions)
    source: Source = "judge"
    if criterion.answer_kind == "both" and from_code > judged:
        judged, source = from_code, "executor"
    row = CriterionScore(
        criterion_id=criterion.id,
        points=_round(judged),
        max_points=criterion.points,
        source=source,
        evidence=award.evidence,
        evidence_verified=award.evidence_verified,
        rationale=award.rationale,
        expected_points=award.expected_points,
        distribution=award.distribution,
    )
    return row, None


def group_points(
    group: ChoiceGroup, alternative_points: Mapping[str, float]
) -> tuple[float, list[CriterionScore]]:
    """Best k of n: the k best alternatives count, under the group cap (or the cap for fewer answered)."""
    ranked = sorted(group.alternatives, key=lambda a: alternative_points[a.id], reverse=True)
    counted = ranked[: group.pick]
    adjustments: list[CriterionScore] = []
    for alternative in ranked[group.pick :]:
        if alternative_points[alternative.id] > 0:
            adjustments.append(
                CriterionScore(
                    criterion_id=f"{group.id}:not-counted:{alternative.id}",
                    points=_round(-alternative_points[alternative.id]),
                    max_points=0.0,
                    source="rule",
                    rationale=f"only the best {group.pick} of {len(group.alternatives)} alternatives count",
                )
            )
    subtotal = sum(alternative_points[a.id] for a in counted)
    answered = sum(1 for a in group.alternatives if alternative_points[a.id] > 0)
    cap = group.caps_when_fewer.get(answered, group.cap) if answered < group.pick else group.cap
    cap = min(cap, group.cap)
    if subtotal > cap:
        adjustments.append(
            CriterionScore(
                criterion_id=f"{group.id}:cap",
                points=_round(cap - subtotal),
                max_points=0.0,
                source="rule",
                rationale=f"group capped at {cap:g} ({answered} alternative(s) answered)",
            )
        )
        subtotal = cap
    return subtotal, adjustments


def score_question(
    question: Question,
    awards: Mapping[str, CriterionAward],
    code_checks: Mapping[str, Mapping[CodeCheckName, bool]] | None = None,
) -> QuestionScore:
    """Apply the question's rules to per-criterion awards; rows add up to the raw points."""
    code_checks = code_checks or {}
    rows: list[CriterionScore] = []
    unscored: list[ReviewReason] = []

    def score(criterion: Criterion) -> float:
        row, problem = criterion_score(criterion, awards.get(criterion.id), code_checks)
        rows.append(row)
        if problem:
            unscored.append(problem)
        return row.points or 0.0

    regular = sum(score(c) for c in question.criteria if not c.bonus)
    for group in question.groups:
        alternative_points = {a.id: sum(score(c) for c in a.criteria) for a in group.alternatives}
        points, adjustments = group_points(group, alternative_points)
        rows.extend(adjustments)
        regular += points
    if regular > question.points:
        rows.append(
            CriterionScore(
                criterion_id="question:cap",
                points=_round(question.points - regular),
                max_points=0.0,
                source="rule",
                rationale=f"question capped at its {question.points:g} points",
            )
        )
        regular = question.points
    bonus = sum(score(c) for c in question.criteria if c.bonus)
    total = regular + bonus
    if bonus and not question.bonus_may_exceed_max and total > question.points:
        rows.append(
            CriterionScore(
                criterion_id="bonus:cap",
                points=_round(question.points - total),
                max_points=0.0,
                source="rule",
                rationale="bonus may not lift the question above its max",
            )
        )
        total = question.points
    return QuestionScore(
        question_id=question.id,
        max_points=question.points,
        raw_points=None if unscored else _round(total),
        rows=rows,
        unscored_reasons=unscored,
    )


def score_missing(question: Question) -> QuestionScore:
    """A question with no answer: 0, by rule, with the reason recorded."""
    row = CriterionScore(
        criterion_id="no-answer", points=0.0, max_points=question.points, source="rule", rationale=NO_ANSWER
    )
    return QuestionScore(question_id=question.id, max_points=question.points, raw_points=0.0, rows=[row])


def score_exam(exam: Exam, questions: Mapping[str, QuestionScore]) -> ExamScore:
    """Sum scored questions; unanswered questions count 0; unscored ones are listed, not zeroed."""
    ordered = [questions.get(q.id) or score_missing(q) for q in exam.questions]
    unscored = [q.question_id for q in ordered if q.raw_points is None]
    return ExamScore(
        raw_total=_round(sum(q.raw_points or 0.0 for q in ordered)),
        max_total=exam.total_points,
        questions=ordered,
        unscored=unscored,
    )
