"""Exam rubrics as validated data."""

from rubric_schema._ids import natural_key
from rubric_schema._key_points import MAX_KEY_POINTS, enumerated_points
from rubric_schema._load import RubricError, exam_json_schema, exam_sha, load_exam, parse_exam, question_sha
from rubric_schema._models import (
    POINT_TOLERANCE,
    Alternative,
    AnswerKind,
    ChoiceGroup,
    CodeCheckName,
    CodeRef,
    CodeTask,
    Criterion,
    Exam,
    PerMention,
    Question,
    Section,
    points_equal,
)

__all__ = [
    "MAX_KEY_POINTS",
    "POINT_TOLERANCE",
    "Alternative",
    "AnswerKind",
    "ChoiceGroup",
    "CodeCheckName",
    "CodeRef",
    "CodeTask",
    "Criterion",
    "Exam",
    "PerMention",
    "Question",
    "RubricError",
    "Section",
    "exam_json_schema",
    "enumerated_points",
    "exam_sha",
    "load_exam",
    "natural_key",
    "parse_exam",
    "points_equal",
    "question_sha",
]
