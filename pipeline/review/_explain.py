"""Explanations on demand: the judge's evidence and rationale, generated when a reviewer needs them.

Scoring never waits on explanations (the one-token calls decide the points). The station asks for an
item's explanation when a reviewer opens it; one worker thread generates it with the judge (opened on
the first job, so the embedded llama-server starts only when needed) and keeps it in the round's
reviews.sqlite, keyed by the answer's and the judge's hashes, so a reopened page or a restarted station
shows it at once. `gradeflow explain` fills the same cache ahead of the reviewers.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal

from pipeline.ingest import Item
from pipeline.judge import MODEL_NAME, PROMPTS_DIR, ItemJudgment, Judge, JudgeSettings
from pipeline.review._round import ItemView, RoundView
from pipeline.review._store import Explanation, ReviewStore
from pipeline.scoring import CriterionAward

log = logging.getLogger(__name__)

JudgeOpener = Callable[[], AbstractContextManager[Judge]]
"""Opens the judge the explanations come from (`lambda: open_judge(settings)`)."""

State = Literal["ready", "pending", "failed", "none"]
"""ready: every criterion explained; pending: queued or generating; failed: say why, retry; none: nothing to explain."""

QUEUE_SIZE = 64
"""Items waiting for the worker at most; a reviewer opens one at a time, so more means a stuck judge."""

def judge_sha(settings: JudgeSettings) -> str:
    """What an explanation depends on besides the answer: the model and the criterion-mode prompts."""
    prompts = settings.prompts_dir or PROMPTS_DIR
    digest = hashlib.sha256(
        "\0".join(str(v) for v in (settings.provider, settings.base_url, settings.model or MODEL_NAME,
                                   settings.local_model_file, settings.temperature)).encode()
    )
    for path in sorted(prompts.glob("criterion.*.md")) + sorted(prompts.glob("rubric_entry.*.md")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ItemExplanation:
    """An item's explanations as a page shows them: per criterion, and whether more are coming."""

    state: State
    criteria: dict[str, Explanation] = field(default_factory=dict)
    error: str = ""


class JudgeUnavailable(Exception):
    """The judge could not be opened or raised (no model, no endpoint): nothing was generated."""


class Explainer:
    """Generates and caches explanations; `request` queues an item for the worker thread, `generate` runs now."""

    def __init__(self, view: RoundView, store: ReviewStore, open_judge: JudgeOpener, judge_sha: str,
                 *, queue_size: int = QUEUE_SIZE):
        self.view, self.store, self.judge_sha = view, store, judge_sha
        self._open = open_judge
        self._judge: Judge | None = None
        self._judge_lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        self._jobs: queue.Queue[ItemView | None] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._pending: set[tuple[str, str]] = set()
        self._failed: dict[tuple[str, str], str] = {}
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()

    @staticmethod
    def wanted(item: ItemView) -> list[str]:
        """The judged criteria of the item that scoring left without an explanation."""
        return [cid for cid, j in item.judge.items()
                if j.source == "judge" and j.points is not None and not j.evidence and not j.rationale]

    def cached(self, item: ItemView) -> dict[str, Explanation]:
        return self.store.explanations(item.key, item.answer_sha, self.judge_sha)

    def state(self, item: ItemView) -> ItemExplanation:
        """What the page can show now, without asking for anything."""
        wanted = self.wanted(item)
        if not wanted:
            return ItemExplanation("none")
        cached = self.cached(item)
        with self._lock:
            if item.key in self._pending:
                return ItemExplanation("pending", cached)
            error = self._failed.get(item.key)
        if all(cid in cached for cid in wanted):
            return ItemExplanation("ready", cached)
        if error is not None:
            return ItemExplanation("failed", cached, error)
        return ItemExplanation("pending", cached)

    def request(self, item: ItemView, *, retry: bool = False) -> ItemExplanation:
        """Queue the item unless it is explained, queued, or failed (a failure is queued again only on retry)."""
        now = self.state(item)
        if now.state in ("ready", "none") or (now.state == "failed" and not retry):
            return now
        with self._lock:
            if item.key in self._pending:
                return now
            self._failed.pop(item.key, None)
            try:
                self._jobs.put_nowait(item)
            except queue.Full:
                self._failed[item.key] = "too many explanations waiting for the judge; retry in a moment"
                return ItemExplanation("failed", now.criteria, self._failed[item.key])
            self._pending.add(item.key)
        self._start()
        return ItemExplanation("pending", now.criteria)

    def generate(self, item: ItemView) -> ItemExplanation:
        """Explain the item's unexplained criteria now and store them; JudgeUnavailable when the judge raised."""
        wanted = self.wanted(item)
        cached = self.cached(item)
        missing = [cid for cid in wanted if cid not in cached]
        if not missing:
            return ItemExplanation("ready" if wanted else "none", cached)
        try:
            judgment = self._judge_now().explain(self.view.questions[item.question_id], _as_item(item),
                                                 _judgment_of(item, missing))
        except Exception as error:  # a model that cannot load, an endpoint that is gone: the page says so
            raise JudgeUnavailable(f"the judge is unavailable: {error}") from error
        made = [Explanation(cid, a.evidence, a.evidence_verified, a.rationale)
                for cid in missing if (a := judgment.awards[cid]).evidence or a.rationale]
        self.store.add_explanations(item.key, item.answer_sha, self.judge_sha, made)
        cached = self.cached(item)
        failed = [cid for cid in missing if cid not in cached]
        if failed:
            return ItemExplanation("failed", cached, f"the judge gave no explanation for {', '.join(failed)}")
        return ItemExplanation("ready", cached)

    def close(self) -> None:
        """Stop the worker after its current job (the queued ones are dropped: they are asked for again when
        a reviewer opens them) and close the judge (stopping an embedded llama-server).
        """
        self._stopping.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._jobs.get_nowait()
        with contextlib.suppress(queue.Full):
            self._jobs.put_nowait(None)  # wakes a worker waiting for a job
        worker = self._worker
        if worker is not None:
            worker.join(timeout=30)
        with self._judge_lock:
            self._stack.close()

    def _judge_now(self) -> Judge:
        with self._judge_lock:
            if self._stopping.is_set():
                raise RuntimeError("the station is stopping")
            if self._judge is None:
                self._judge = self._stack.enter_context(self._open())
            return self._judge

    def _start(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._loop, name="review-explain", daemon=True)
                self._worker.start()

    def _loop(self) -> None:
        while (item := self._jobs.get()) is not None and not self._stopping.is_set():
            try:
                outcome = self.generate(item)
                error = outcome.error if outcome.state == "failed" else None
            except JudgeUnavailable as failure:
                error = str(failure)
            except Exception as failure:  # never kill the worker: the page shows the failure and offers a retry
                log.exception("explaining %s / %s failed", *item.key)
                error = f"explaining failed: {failure}"
            with self._lock:
                self._pending.discard(item.key)
                if error is not None:
                    self._failed[item.key] = error


def _as_item(item: ItemView) -> Item:
    return Item(submission_id=item.submission_id, question_id=item.question_id, text=item.answer)


def _judgment_of(item: ItemView, criteria: list[str]) -> ItemJudgment:
    """The judge's verdict as the tables keep it, for the criteria to explain (their points stay as they are)."""
    awards = {cid: CriterionAward(points=item.judge[cid].points, expected_points=item.judge[cid].expected_points)
              for cid in criteria}
    return ItemJudgment(submission_id=item.submission_id, question_id=item.question_id, awards=awards,
                        confidence=min(max(item.confidence or 0.0, 0.0), 1.0), needs_review=item.needs_review)
