"""Why an item is in the review queue, as a kind that can be counted and a detail that can be read.

The judge, the scoring rules, the executors and the calibration each say why in prose; `classify` maps
every such sentence to one `ReviewKind`, so the summary and the report group by kind instead of by
fragments of the text. A producer that knows its kind can hand a `ReviewReason` over directly.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ReviewKind(StrEnum):
    """Kinds of review reason, most urgent first (an item's `review_kind` is its most urgent one)."""

    JUDGE_UNAVAILABLE = "judge_unavailable"
    """The judge endpoint was gone: the item is unscored and waits for the next run."""
    JUDGE_ERROR = "judge_error"
    """A judge call failed for this item, or its reply did not fit the schema."""
    INJECTION = "injection"
    """Text addressed to the grader was found in the answer."""
    UNSCORED = "unscored"
    """A criterion has no points for another reason (not judged, no code run)."""
    CODE = "code"
    """A code task failed its checks, errored or timed out."""
    EVIDENCE = "evidence"
    """Points withheld: the quoted evidence or the mentions are not in the answer."""
    LOW_CONFIDENCE = "low_confidence"
    """The judge's confidence is below the review threshold."""
    CALIBRATION = "calibration"
    """The calibration expects an error above its review threshold."""
    DUPLICATE_ANSWER = "duplicate_answer"
    """The question was answered more than once; the parts were joined."""
    OTHER = "other"


class ReviewReason(BaseModel):
    """One reason an item needs a person: its kind and the sentence that explains it."""

    model_config = ConfigDict(frozen=True)

    kind: ReviewKind
    detail: str


_RULES: list[tuple[ReviewKind, re.Pattern[str]]] = [
    (ReviewKind.JUDGE_UNAVAILABLE, re.compile(r"judge unavailable")),
    (ReviewKind.INJECTION, re.compile(r"prompt injection|addressed to the grader|the screen removed")),
    (
        ReviewKind.JUDGE_ERROR,
        re.compile(
            r"call failed|reply does not fit|reply cut off|no choices|answered with no json|no top_logprobs"
            r"|none of the labels|splits the label"
        ),
    ),
    (ReviewKind.CODE, re.compile(r"^code task ")),
    (ReviewKind.EVIDENCE, re.compile(r"evidence not found|no evidence quoted|mention\(s\) not found")),
    (ReviewKind.LOW_CONFIDENCE, re.compile(r"^confidence [\d.]+ below")),
    (ReviewKind.CALIBRATION, re.compile(r"^calibration expects")),
    (ReviewKind.DUPLICATE_ANSWER, re.compile(r"answered more than once")),
    (ReviewKind.UNSCORED, re.compile(r"unscored|not judged")),
]


def classify(reason: str | ReviewReason) -> ReviewReason:
    """The kind of one review reason (a ReviewReason is returned as it is)."""
    if isinstance(reason, ReviewReason):
        return reason
    text = reason.strip().lower()
    for kind, pattern in _RULES:
        if pattern.search(text):
            return ReviewReason(kind=kind, detail=reason)
    return ReviewReason(kind=ReviewKind.OTHER, detail=reason)


_ORDER = list(ReviewKind)


def kinds_of(reasons: list[ReviewReason]) -> list[ReviewKind]:
    """The distinct kinds of some reasons, most urgent first."""
    return sorted({r.kind for r in reasons}, key=_ORDER.index)
