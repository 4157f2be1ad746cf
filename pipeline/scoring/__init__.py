"""The rubric's scoring rules, as pure functions."""

from pipeline.scoring._rules import (
    NO_ANSWER,
    NOT_JUDGED,
    CriterionAward,
    CriterionScore,
    ExamScore,
    QuestionScore,
    code_points,
    criterion_score,
    group_points,
    judged_points,
    mention_points,
    score_exam,
    score_missing,
    score_question,
)

__all__ = [
    "NO_ANSWER",
    "NOT_JUDGED",
    "CriterionAward",
    "CriterionScore",
    "ExamScore",
    "QuestionScore",
    "code_points",
    "criterion_score",
    "group_points",
    "judged_points",
    "mention_points",
    "score_exam",
    "score_missing",
    "score_question",
]
