"""Why an item is in the review queue, as a kind that can be counted and a detail that can be read.

Each producer (the judge, the scoring rules, grading's code runs and duplicate answers, the calibration)
knows why it asks for a person, so it says so as a `ReviewReason` where the reason arises; the reason
travels typed to the item row, and the summary, the report and the round's exit code read its kind,
never its wording.
"""

from __future__ import annotations

from collections.abc import Sequence
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


_ORDER = list(ReviewKind)


class ReviewReason(BaseModel):
    """One reason an item needs a person: its kind and the sentence that explains it."""

    model_config = ConfigDict(frozen=True)

    kind: ReviewKind
    detail: str
    """The producer's own sentence (the summary quotes a judge outage by it, without the criterion)."""
    line: str = ""
    """The reason as the item's `review_reason` column writes it: where it arose in front of the detail,
    other causes of the same criterion joined; empty while it is the detail itself."""

    @property
    def text(self) -> str:
        """What a person reads: the line, or the detail where nothing was put around it."""
        return self.line or self.detail

    def under(self, prefix: str) -> ReviewReason:
        """The same reason said of a criterion or a call: `prefix` in front of its text, kind and detail kept."""
        return self.model_copy(update={"line": prefix + self.text})


def kinds_of(reasons: Sequence[ReviewReason]) -> list[ReviewKind]:
    """The distinct kinds of some reasons, most urgent first."""
    return sorted({r.kind for r in reasons}, key=_ORDER.index)


def joined(reasons: Sequence[ReviewReason]) -> ReviewReason:
    """Several reasons as one ("; " between their texts), of the most urgent kind and with its detail."""
    first = min(reasons, key=lambda r: _ORDER.index(r.kind))
    if len(reasons) == 1:
        return first
    return first.model_copy(update={"line": "; ".join(r.text for r in reasons)})
