"""The station's logic apart from HTTP: who holds which item, the queue, parsing a form, live agreement.

A background thread re-exports the tables after grades are saved (debounced), so the request that saved
a grade answers as soon as SQLite committed it.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.calibrate import agreement, infer_scale
from pipeline.review._auth import (
    REVIEWERS_FILE,
    SECRET_FILE,
    SESSION_MAX_AGE_S,
    Reviewer,
    Sessions,
    hash_token,
    load_reviewers,
    load_secret,
)
from pipeline.review._explain import Explainer, JudgeOpener
from pipeline.review._export import ExportSummary, export, forms
from pipeline.review._round import ItemView, RoundView
from pipeline.review._store import STORE_FILE, GradeEvent, ItemKey, NewGrade, ReviewStore
from pipeline.rounds import RoundBusy

log = logging.getLogger(__name__)

MAX_COMMENT = 2000
QUEUE_ROWS = 200
"""Rows the queue page lists (the counts cover every item)."""


class FormError(Exception):
    """A form that cannot be saved; the message says what to fix. Nothing was saved."""


@dataclass(frozen=True)
class QueueRow:
    """An item in a reviewer's queue with who else holds it."""

    item: ItemView
    graded_by: tuple[str, ...]
    claimed_by: tuple[str, ...]


@dataclass(frozen=True)
class Queue:
    """What a reviewer sees on the queue page."""

    rows: list[QueueRow]
    available: int
    """Items this reviewer may grade now (with the filters)."""
    done: int
    """Items of the mode with all the grades they need."""
    total: int
    questions: list[str]


@dataclass(frozen=True)
class CalibrationPlan:
    """The calibration queue handed to the station: per question, the answers to grade first.

    Plain data (the CLI picks the answers with pipeline.calibrate's `propose`): `items` in the order they
    are served, `per_question` the K asked for, `earlier` the grades each question had when they were picked.
    """

    per_question: int
    items: tuple[ItemKey, ...]
    earlier: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CalibrationProgress:
    """One question of the calibration queue: `graded` of `wanted` grades given."""

    question_id: str
    graded: int
    wanted: int
    left: int
    """Proposed answers of the question nobody graded yet."""


@dataclass(frozen=True)
class CalibrationQueue:
    """What the queue page shows above the review queue (empty when the station has no plan)."""

    rows: list[QueueRow]
    progress: list[CalibrationProgress]
    available: int
    blind: bool
    """Whether its items are graded blind whatever the reviewer's mode."""


@dataclass(frozen=True)
class Agreement:
    """Agreement between the two reviewers of each double-graded item (the calibration's metrics)."""

    n: int
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class ParsedForm:
    """A grade form that passed every check."""

    form_id: str
    version: int
    grades: list[NewGrade]
    comment: str


class Exporter:
    """Runs the export in a daemon thread whenever poked; `exported_seq` is the last event it wrote."""

    def __init__(self, view: RoundView, store: ReviewStore):
        self._view, self._store = view, store
        self._wanted = threading.Event()
        self.exported_seq = 0

    def run_once(self) -> ExportSummary:
        summary = export(self._view, self._store)
        self.exported_seq = summary.last_seq
        return summary

    def start(self) -> None:
        threading.Thread(target=self._loop, name="review-export", daemon=True).start()

    def poke(self) -> None:
        self._wanted.set()

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                self.run_once()
            except RoundBusy as error:  # a re-score holds the round: try again when it may have ended
                log.warning("review export waits: %s", error)
                self._wanted.set()
            except Exception:  # the log keeps every grade; the next export retries
                log.exception("review export failed")


class Station:
    """One round's review station: the round view, the store, reviewers, sessions and the exporter."""

    def __init__(self, round_out: str | Path, round_dir: str | Path, *, round_id: str | None = None,
                 double_share: float = 0.1, open_judge: JudgeOpener | None = None, judge_sha: str = "",
                 calibration: CalibrationPlan | None = None, calibration_blind: bool = True):
        """`open_judge` (with the `judge_sha` of its model and prompts): explanations on demand; None: none.

        `calibration`: the answers to grade ahead of the review queue (blind unless `calibration_blind` is off).
        """
        self.round_out = Path(round_out)
        self.view = RoundView(round_out, round_dir, round_id=round_id, double_share=double_share)
        self.store = ReviewStore(self.round_out / STORE_FILE)
        self.reviewers_path = self.round_out / REVIEWERS_FILE
        self.sessions = Sessions(load_secret(self.round_out / SECRET_FILE))
        self.exporter = Exporter(self.view, self.store)
        self.explainer = Explainer(self.view, self.store, open_judge, judge_sha) if open_judge else None
        self._reviewers: tuple[tuple[int, int, int] | None, dict[str, Reviewer]] = (None, {})
        self.set_calibration(calibration, blind=calibration_blind)

    def close(self) -> None:
        """Stop what the station started: the explanation worker and its judge (an embedded llama-server)."""
        if self.explainer is not None:
            self.explainer.close()

    def reviewers(self) -> dict[str, Reviewer]:
        """reviewers.yaml, re-read only when the file changed (every request checks its reviewer is listed)."""
        try:
            stat = self.reviewers_path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._reviewers[0]:
            self._reviewers = (stamp, load_reviewers(self.reviewers_path))
        return self._reviewers[1]

    def login(self, token: str, sid: str) -> str | None:
        """The reviewer a one-time token belongs to, spending it and opening session `sid`; None: unknown or used."""
        digest = hash_token(token)
        match = next((r for r in self.reviewers().values() if r.token_sha256 == digest), None)
        if match is None or not self.store.use_token(digest, match.name):
            return None
        self.store.open_session(sid, match.name, digest, SESSION_MAX_AGE_S)
        return match.name

    def session_live(self, sid: str, reviewer: str) -> bool:
        """Whether the server still knows the session: not logged out, not expired, and opened with the
        reviewer's current token (a new token from `add-reviewer` ends every older session).
        """
        listed = self.reviewers().get(reviewer)
        return listed is not None and self.store.session_token(sid, reviewer) == listed.token_sha256

    def set_calibration(self, plan: CalibrationPlan | None, *, blind: bool = True) -> None:
        """Serve `plan`'s answers ahead of the review queue (None: no calibration queue)."""
        self.calibration = plan if plan is not None else CalibrationPlan(0, ())
        self.calibration_blind = blind
        self._calibration_items = [self.view.items[k] for k in dict.fromkeys(self.calibration.items)
                                   if k in self.view.items]

    def calibration_pending(self, graded: Mapping[ItemKey, set[str]] | None = None) -> set[ItemKey]:
        """Proposed items nobody has graded yet (as they are now): the calibration queue."""
        if not self._calibration_items:
            return set()
        if graded is None:
            graded = self.store.graders(self.view.round_id, self.view.against)
        return {i.key for i in self._calibration_items if not graded.get(i.key)}

    def blind_for(self, item: ItemView, mode: str) -> bool:
        """Whether the item is graded with the judge hidden: blind mode, or an item of the calibration queue."""
        return mode == "blind" or (self.calibration_blind and item.key in self.calibration_pending())

    def calibration_queue(self, reviewer: str, *, question: str = "", reason: str = "") -> CalibrationQueue:
        """The calibration items this reviewer may grade now, and per question how many of K are graded."""
        graded = self.store.graders(self.view.round_id, self.view.against)
        claims = self.store.active_claims(self.view.round_id)
        pending = self.calibration_pending(graded)
        rows: list[QueueRow] = []
        for item in self._calibration_items:
            if item.key not in pending or (question and item.question_id != question):
                continue
            if reason and not any(reason.lower() in r.lower() for r in item.reasons):
                continue
            if len(claims.get(item.key, set()) - {reviewer}) < item.capacity:
                rows.append(QueueRow(item, (), tuple(sorted(claims.get(item.key, set())))))
        progress = []
        for question_id in dict.fromkeys(i.question_id for i in self._calibration_items):
            mine = [i for i in self._calibration_items if i.question_id == question_id]
            done = sum(1 for i in mine if i.key not in pending)
            wanted = self.calibration.per_question
            earlier = min(self.calibration.earlier.get(question_id, 0), wanted)
            progress.append(CalibrationProgress(question_id, min(earlier + done, wanted), wanted, len(mine) - done))
        return CalibrationQueue(rows=rows, progress=progress, available=len(rows), blind=self.calibration_blind)

    def queue(self, reviewer: str, mode: str, *, question: str = "", reason: str = "", by: str = "") -> Queue:
        """The items of the mode this reviewer may grade (or, with `by`, those that reviewer graded).

        Items still in the calibration queue are listed there, not here (their judge's points stay hidden).
        """
        items = self.view.in_mode(mode)
        graded = self.store.graders(self.view.round_id, self.view.against)
        pending = set() if by else self.calibration_pending(graded)
        claims = self.store.active_claims(self.view.round_id)
        done = sum(1 for i in items if len(graded.get(i.key, ())) >= i.capacity)
        rows: list[QueueRow] = []
        available = 0
        for item in items:
            if question and item.question_id != question:
                continue
            if reason and not any(reason.lower() in r.lower() for r in item.reasons):
                continue
            graders = graded.get(item.key, set())
            holders = (graders | claims.get(item.key, set())) - {reviewer}
            if by:
                shown = by in graders
            else:
                shown = item.key not in pending and reviewer not in graders and len(holders) < item.capacity
            if shown:
                available += 1
                if len(rows) < QUEUE_ROWS:
                    rows.append(QueueRow(item, tuple(sorted(graders)), tuple(sorted(claims.get(item.key, set())))))
        questions = sorted({i.question_id for i in items}, key=lambda q: tuple(int(p) for p in q.split(".")))
        return Queue(rows=rows, available=available, done=done, total=len(items), questions=questions)

    def next_item(self, reviewer: str, mode: str, *, question: str = "", reason: str = "") -> ItemView | None:
        """Claim and return the first item of the calibration queue, else of the reviewer's queue; None when
        both are empty.
        """
        rows = self.calibration_queue(reviewer, question=question, reason=reason).rows
        for row in [*rows, *self.queue(reviewer, mode, question=question, reason=reason).rows]:
            if self.store.claim(self.view.round_id, row.item.key, reviewer, row.item.capacity,
                                self.view.against[row.item.key]).taken:
                return row.item
        return None

    def holders_blocking(self, item: ItemView, reviewer: str) -> frozenset[str]:
        """Claim the item; the others holding it when they leave no place for this reviewer, else empty."""
        claim = self.store.claim(self.view.round_id, item.key, reviewer, item.capacity, self.view.against[item.key])
        return frozenset() if claim.taken else claim.others

    def my_latest(self, item: ItemView, reviewer: str) -> list[GradeEvent]:
        """The reviewer's latest form on the item (empty when never graded)."""
        mine = [e for e in self.store.events(self.view.round_id, item.key) if e.reviewer == reviewer]
        if not mine:
            return []
        last = mine[-1].form_id
        return [e for e in mine if e.form_id == last]

    def parse_form(self, item: ItemView, fields: Mapping[str, str]) -> ParsedForm:
        """Check a grade form against the rubric: every criterion once, only allowed values, known fields."""
        try:
            form_id = uuid.UUID(fields.get("form_id", "")).hex
            version = int(fields.get("version", ""))
        except ValueError:
            raise FormError("the form is incomplete (no form id or version): reload the item") from None
        criteria = self.view.criteria(item.question_id)
        known = {f"c:{c.id}" for c, _, _ in criteria}
        unknown = sorted(k for k in fields if k.startswith("c:") and k not in known)
        if unknown:
            raise FormError(f"question {item.question_id} has no criterion {unknown[0][2:]!r}")
        grades = []
        for criterion, allowed, _ in criteria:
            value = fields.get(f"c:{criterion.id}", "").strip()
            if not value:
                raise FormError(f"criterion {criterion.id}: no points chosen")
            try:
                points = float(value)
            except ValueError:
                raise FormError(f"criterion {criterion.id}: {value!r} is not a number") from None
            match = next((a for a in allowed if math.isclose(a, points, abs_tol=1e-6)), None)
            if match is None:
                raise FormError(
                    f"criterion {criterion.id}: {value} points is not allowed "
                    f"(allowed: {', '.join(f'{a:g}' for a in allowed)})"
                )
            grades.append(NewGrade(criterion.id, match))
        comment = fields.get("comment", "").strip()
        if len(comment) > MAX_COMMENT:
            raise FormError(f"the comment is {len(comment)} characters; at most {MAX_COMMENT}")
        return ParsedForm(form_id=form_id, version=version, grades=grades, comment=comment)

    def save(self, item: ItemView, reviewer: str, mode: str, form: ParsedForm) -> bool:
        """Store a checked form (False: it was saved before) and have the tables re-exported."""
        saved = self.store.add_form(
            form_id=form.form_id,
            round_id=self.view.round_id,
            item=item.key,
            reviewer=reviewer,
            grades=form.grades,
            comment=form.comment,
            mode=mode,
            answer_sha=item.answer_sha,
            question_sha=self.view.question_shas[item.question_id],
            expected_version=form.version,
        )
        self.exporter.poke()
        return saved

    def agreement(self) -> Agreement:
        """Reviewer–reviewer agreement over the double-graded items that have two current grades."""
        doubles = {k for k, i in self.view.items.items() if i.double}
        events = [e for e in self.store.events(self.view.round_id) if e.item in doubles]
        pairs: dict[ItemKey, dict[str, float]] = {}
        for form in forms(self.view, events):
            if form.current and not form.stale:
                pairs.setdefault(form.first.item, {})[form.first.reviewer] = form.item_points
        both = [(k, sorted(g.items())[:2]) for k, g in pairs.items() if len(g) >= 2]
        if not both:
            return Agreement(n=0, metrics={})
        a = np.array([g[0][1] for _, g in both])
        b = np.array([g[1][1] for _, g in both])
        maxima = np.array([self.view.items[k].max_points for k, _ in both])
        scale = infer_scale(np.concatenate([a, b]), np.concatenate([maxima, maxima]))
        values = agreement(scale.rescale(a, maxima), scale.rescale(b, maxima), scale)
        return Agreement(
            n=len(both),
            metrics={name: (None if not math.isfinite(v) else v) for name, v in values.items()},
        )
