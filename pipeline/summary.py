"""The closing summary of a scored round: what an operator reads before opening the report."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline.reasons import ReviewKind, ReviewReason
from pipeline.store import JudgeCallRow, RoundRows
from rubric_schema import Exam


class QuestionSummary(BaseModel):
    """Mean and spread of one question's raw points over the scored submissions."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    max_points: float
    mean: float | None
    sd: float | None
    n_scored: int
    n_review: int


class RoundSummary(BaseModel):
    """Counts, distributions, the review queue's size and every failure, for the CLI to print."""

    model_config = ConfigDict(frozen=True)

    round_id: str
    out_dir: str
    n_submissions: int
    statuses: dict[str, int]
    questions: list[QuestionSummary]
    totals: list[float]
    """Raw totals of the scored submissions, sorted."""
    max_total: float
    n_items_review: int
    review_kinds: dict[str, int]
    """Items in review per kind of reason (an item with reasons of two kinds counts under both)."""
    failures: list[str]
    """Rejected files and unscored items, one line each (items waiting for the judge are one line below)."""
    waiting_items: int = 0
    """Items left unscored because the judge was unavailable: the next run judges them."""
    waiting_reason: str = ""
    """What made the judge unavailable, as the first waiting item's reason said it (the outage alone)."""
    judge_calls: int
    judge_cache_hits: int
    judge_errors: int
    judged_by_distribution: int = 0
    """Criteria the judge decided from a score distribution (one decoded token)."""
    judged_by_verdict: int = 0
    """Criteria the judge decided from a generated verdict (the mode asked for, or an endpoint without
    log-probabilities)."""
    prompt_tokens_evaluated: int | None = None
    """Prompt tokens the judge's server computed in this round; None where it does not say."""
    prompt_tokens_floor: int | None = None
    """The round's unique prompt tokens: each question's prefix once, each answer once, each ask once."""

    def prompt_tokens_line(self) -> str | None:
        """'prompt tokens evaluated N (floor M, ratio r)'; None where the server did not report them."""
        if self.prompt_tokens_evaluated is None:
            return None
        if not self.prompt_tokens_floor:
            return f"prompt tokens evaluated {self.prompt_tokens_evaluated:,} (floor unknown)"
        ratio = self.prompt_tokens_evaluated / self.prompt_tokens_floor
        return (
            f"prompt tokens evaluated {self.prompt_tokens_evaluated:,} "
            f"(floor {self.prompt_tokens_floor:,}, ratio {ratio:.2f})"
        )

    def judge_path_line(self) -> str:
        """How the judge decided the criteria it scored: distributions, generated verdicts, or both."""
        return (
            f"judge: {self.judged_by_distribution} criteria from score distributions, "
            f"{self.judged_by_verdict} from generated verdicts"
        )

    @property
    def complete(self) -> bool:
        """Whether every item got what it could: nothing waits for the judge."""
        return self.waiting_items == 0

    def incomplete_line(self) -> str:
        """One line for an incomplete round: what failed and how many items wait."""
        return (
            f"round {self.round_id} incomplete: {self.waiting_items} item(s) wait for the next run; "
            f"{self.waiting_reason}"
        )

    def total_quantiles(self) -> dict[str, float]:
        """Min, quartiles and max of the totals (empty when nothing was scored)."""
        if not self.totals:
            return {}
        if len(self.totals) == 1:
            only = self.totals[0]
            return {"min": only, "p25": only, "median": only, "p75": only, "max": only}
        q1, median, q3 = statistics.quantiles(self.totals, n=4, method="inclusive")
        return {"min": self.totals[0], "p25": q1, "median": median, "p75": q3, "max": self.totals[-1]}


def summarize(
    exam: Exam, round_id: str, rows: RoundRows, *, out_dir: Path, reasons: Sequence[ReviewReason] = ()
) -> RoundSummary:
    """Summarise a round from the rows just written (`pipeline.grading.round_rows`); `reasons`, the items'
    review reasons as their producers typed them, say what made the judge unavailable.
    """
    submissions = rows["submissions"]
    items = [r for r in rows["item_scores"] if r.kind != "missing"]
    questions = []
    for q in exam.questions:
        mine = [r for r in items if r.question_id == q.id]
        scored = [r.raw_points for r in mine if r.raw_points is not None]
        questions.append(
            QuestionSummary(
                question_id=q.id,
                max_points=q.points,
                mean=round(statistics.fmean(scored), 2) if scored else None,
                sd=round(statistics.stdev(scored), 2) if len(scored) > 1 else None,
                n_scored=len(scored),
                n_review=sum(1 for r in mine if r.needs_review),
            )
        )
    review_kinds: Counter[str] = Counter(kind for r in items if r.needs_review for kind in r.review_kinds or ["other"])
    waiting = [r for r in items if ReviewKind.JUDGE_UNAVAILABLE.value in (r.review_kinds or [])]
    failures = [f"{s.source_file}: rejected: {s.status_reason}" for s in submissions if s.status == "rejected"]
    failures += [
        f"{r.submission_id} {r.question_id}: {r.review_reason}"
        for r in items
        if r.raw_points is None and r not in waiting
    ]
    calls = rows["judge_calls"]
    judged = [r for r in rows["criterion_scores"] if r.source == "judge" and r.points is not None]
    return RoundSummary(
        round_id=round_id,
        out_dir=str(out_dir),
        n_submissions=len(submissions),
        statuses=dict(Counter(s.status for s in submissions)),
        questions=questions,
        totals=sorted(s.raw_total for s in submissions if s.raw_total is not None),
        max_total=exam.total_points,
        n_items_review=sum(1 for r in items if r.needs_review),
        review_kinds=dict(review_kinds.most_common()),
        failures=failures,
        waiting_items=len(waiting),
        waiting_reason=next((r.detail for r in reasons if r.kind is ReviewKind.JUDGE_UNAVAILABLE), ""),
        judge_calls=len(calls),
        judge_cache_hits=sum(1 for c in calls if c.cache_hit),
        judge_errors=sum(1 for c in calls if c.error),
        judged_by_distribution=sum(1 for r in judged if r.distribution is not None),
        judged_by_verdict=sum(1 for r in judged if r.distribution is None),
        **_prompt_tokens(calls),
    )


def _prompt_tokens(calls: list[JudgeCallRow]) -> dict[str, int | None]:
    """The round's evaluated prompt tokens and their floor (each question's prefix counted once), where every
    call that reached the model says; a fully cached round evaluated nothing.
    """
    made = [c for c in calls if not c.cache_hit]
    if any(c.tokens_evaluated is None for c in made):
        return {"prompt_tokens_evaluated": None, "prompt_tokens_floor": None}
    evaluated = sum(c.tokens_evaluated or 0 for c in made)
    if any(c.tokens_floor is None for c in made):
        return {"prompt_tokens_evaluated": evaluated, "prompt_tokens_floor": None}
    prefixes = {c.prefix_sha: c.prefix_tokens or 0 for c in made if c.prefix_sha}
    floor = sum(c.tokens_floor or 0 for c in made) + sum(prefixes.values())
    return {"prompt_tokens_evaluated": evaluated, "prompt_tokens_floor": floor}
