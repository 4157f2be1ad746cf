"""The review station: people grade, override and double-grade items; grades feed the tables and calibration.

`gradeflow review ROUND_OUT --round-dir DIR` serves it; the grade log is `ROUND_OUT/reviews.sqlite`,
exported to the `human_reviews` table and to the final points of `item_scores` and `submissions`.
"""

from pipeline.review._auth import REVIEWERS_FILE, AuthError, add_reviewer, hash_token, load_reviewers
from pipeline.review._explain import Explainer, ItemExplanation, JudgeUnavailable, judge_sha
from pipeline.review._export import ExportSummary, HumanDecision, export
from pipeline.review._round import (
    ROUND_SOURCE_FILE,
    ReviewError,
    RoundSource,
    RoundView,
    allowed_values,
    read_round_source,
    record_round_source,
)
from pipeline.review._station import CalibrationPlan, FormError, Station
from pipeline.review._store import STORE_FILE, Explanation, GradeEvent, NewGrade, ReviewStore, StaleForm

__all__ = [
    "REVIEWERS_FILE",
    "ROUND_SOURCE_FILE",
    "STORE_FILE",
    "AuthError",
    "CalibrationPlan",
    "Explainer",
    "Explanation",
    "ExportSummary",
    "FormError",
    "GradeEvent",
    "HumanDecision",
    "ItemExplanation",
    "JudgeUnavailable",
    "NewGrade",
    "ReviewError",
    "ReviewStore",
    "RoundSource",
    "RoundView",
    "StaleForm",
    "Station",
    "add_reviewer",
    "allowed_values",
    "export",
    "hash_token",
    "judge_sha",
    "load_reviewers",
    "read_round_source",
    "record_round_source",
]
