"""The review store: every grade an append-only event in SQLite (WAL) beside the round's tables.

One saved form is one event per criterion, all in one transaction, keyed by the form's id: a form sent
twice (a retry after a dropped connection, a double click, a server killed after its commit) is saved
once. A grade is never updated or deleted; a reviewer's later form for the same item supersedes the
earlier one when final points are computed, and both stay in the log.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

STORE_FILE = "reviews.sqlite"

CLAIM_TTL_S = 20 * 60
"""A claim (an item opened by a reviewer) keeps others off it this long, unless its holder graded it."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    form_id TEXT NOT NULL,
    round_id TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    criterion_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    points REAL NOT NULL,
    comment TEXT NOT NULL,
    mode TEXT NOT NULL,
    graded_at TEXT NOT NULL,
    answer_sha TEXT NOT NULL,
    question_sha TEXT NOT NULL,
    UNIQUE (form_id, criterion_id)
);
CREATE INDEX IF NOT EXISTS grades_item ON grades (round_id, submission_id, question_id);
CREATE TABLE IF NOT EXISTS claims (
    round_id TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (round_id, submission_id, question_id, reviewer)
);
CREATE TABLE IF NOT EXISTS used_tokens (
    token_sha256 TEXT PRIMARY KEY,
    reviewer TEXT NOT NULL,
    used_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    sid TEXT PRIMARY KEY,
    reviewer TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS explanations (
    submission_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    criterion_id TEXT NOT NULL,
    answer_sha TEXT NOT NULL,
    judge_sha TEXT NOT NULL,
    evidence TEXT NOT NULL,
    evidence_verified INTEGER NOT NULL,
    rationale TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (submission_id, question_id, criterion_id, answer_sha, judge_sha)
);
"""

ItemKey = tuple[str, str]
"""(submission_id, question_id) within one round."""

Against = tuple[str, str]
"""(answer_sha, question_sha): what a grade was given for; a re-scored round may change either."""


@dataclass(frozen=True)
class GradeEvent:
    """One criterion grade as stored: who, when, which item and criterion, how many points, in what mode."""

    seq: int
    form_id: str
    round_id: str
    submission_id: str
    question_id: str
    criterion_id: str
    reviewer: str
    points: float
    comment: str
    mode: str
    graded_at: datetime
    answer_sha: str
    question_sha: str

    @property
    def item(self) -> ItemKey:
        return (self.submission_id, self.question_id)


@dataclass(frozen=True)
class NewGrade:
    """A criterion's points as a reviewer's form gives them."""

    criterion_id: str
    points: float


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming an item: whether this reviewer may grade it, and who else holds it."""

    taken: bool
    others: frozenset[str]


@dataclass(frozen=True)
class Explanation:
    """The judge's quoted evidence and rationale for one criterion, generated on demand (never its points)."""

    criterion_id: str
    evidence: str
    evidence_verified: bool
    rationale: str


class ReviewStore:
    """The SQLite file of one round output folder; a connection per call, so any thread may use it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._con().executescript(_SCHEMA)

    def _con(self) -> sqlite3.Connection:
        """The calling thread's connection, kept open: closing the last connection of a WAL database checkpoints
        it, once a request (its cost: docs/BENCHMARKS.md, "Review station"), and the server's worker threads
        are reused.
        """
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            self._local.con = con
        return con

    @contextmanager
    def _write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        con = self._con()
        # FULL: a grade acknowledged to the reviewer survives a power cut. A claim is not worth an fsync:
        # NORMAL still survives a killed process, and a claim lost to a power cut is simply taken again.
        con.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def has_form(self, form_id: str, reviewer: str) -> bool:
        """Whether this reviewer saved this form already (a resent form is acknowledged, not saved twice)."""
        return _owner(self._con(), form_id) == reviewer

    def add_form(
        self,
        *,
        form_id: str,
        round_id: str,
        item: ItemKey,
        reviewer: str,
        grades: Sequence[NewGrade],
        comment: str,
        mode: str,
        answer_sha: str,
        question_sha: str,
        expected_version: int,
    ) -> bool:
        """Save a form's grades at once; False when this reviewer saved the form before (nothing is added).

        A form id another reviewer saved raises StaleForm: their form is never taken for this one.

        `expected_version` is the reviewer's last seq on the item when the form was rendered: if the
        reviewer saved the item since (another tab), the form is stale and StaleForm is raised.
        """
        now = datetime.now(UTC).isoformat()
        with self._write() as con:
            owner = _owner(con, form_id)
            if owner == reviewer:
                return False
            if owner is not None:
                raise StaleForm("this form was saved by another reviewer: reload the item for a form of your own")
            version = _version(con, round_id, item, reviewer)
            if version != expected_version:
                raise StaleForm(f"you saved {item[0]} / {item[1]} again after this form was opened")
            con.executemany(
                "INSERT INTO grades (form_id, round_id, submission_id, question_id, criterion_id, reviewer, points,"
                " comment, mode, graded_at, answer_sha, question_sha) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (form_id, round_id, *item, g.criterion_id, reviewer, g.points, comment, mode, now, answer_sha,
                     question_sha)
                    for g in grades
                ],
            )
            return True

    def events(self, round_id: str, item: ItemKey | None = None) -> list[GradeEvent]:
        """Every grade event of a round (or of one item), oldest first."""
        sql = "SELECT * FROM grades WHERE round_id = ?"
        params: list[str] = [round_id]
        if item is not None:
            sql += " AND submission_id = ? AND question_id = ?"
            params += list(item)
        rows = self._con().execute(sql + " ORDER BY seq", params).fetchall()
        return [_event(row) for row in rows]

    def graders(self, round_id: str, against: Mapping[ItemKey, Against]) -> dict[ItemKey, set[str]]:
        """Item → reviewers who graded it as it is now (`against`: its answer and question hashes).

        A grade of an answer or question that changed since (a re-scored round) is kept in the log but
        holds nothing: the item is back in the queue.
        """
        rows = self._con().execute(
            "SELECT DISTINCT submission_id, question_id, reviewer, answer_sha, question_sha FROM grades"
            " WHERE round_id = ?",
            [round_id],
        ).fetchall()
        held: dict[ItemKey, set[str]] = {}
        for sid, qid, reviewer, answer_sha, question_sha in rows:
            if against.get((sid, qid)) == (answer_sha, question_sha):
                held.setdefault((sid, qid), set()).add(reviewer)
        return held

    def active_claims(self, round_id: str) -> dict[ItemKey, set[str]]:
        """Item → reviewers with a live claim on it (opened in the last CLAIM_TTL_S seconds)."""
        rows = self._con().execute(
            "SELECT submission_id, question_id, reviewer FROM claims WHERE round_id = ? AND claimed_at > ?",
            [round_id, time.time() - CLAIM_TTL_S],
        ).fetchall()
        claims: dict[ItemKey, set[str]] = {}
        for sid, qid, reviewer in rows:
            claims.setdefault((sid, qid), set()).add(reviewer)
        return claims

    def claim(self, round_id: str, item: ItemKey, reviewer: str, capacity: int, against: Against) -> Claim:
        """Claim an item for a reviewer unless `capacity` others already hold it (graded as it is now, or claimed)."""
        now = time.time()
        with self._write(durable=False) as con:
            graded = {
                r
                for (r,) in con.execute(
                    "SELECT DISTINCT reviewer FROM grades WHERE round_id = ? AND submission_id = ? AND question_id = ?"
                    " AND answer_sha = ? AND question_sha = ?",
                    [round_id, *item, *against],
                )
            }
            claimed = {
                r
                for (r,) in con.execute(
                    "SELECT reviewer FROM claims WHERE round_id = ? AND submission_id = ? AND question_id = ?"
                    " AND claimed_at > ?",
                    [round_id, *item, now - CLAIM_TTL_S],
                )
            }
            others = frozenset((graded | claimed) - {reviewer})
            taken = reviewer in graded or len(others) < capacity
            if taken:
                con.execute(
                    "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)", [round_id, *item, reviewer, now]
                )
            return Claim(taken=taken, others=others)

    def use_token(self, token_sha256: str, reviewer: str) -> bool:
        """Spend a one-time login token; False when it was used before."""
        with self._write() as con:
            if con.execute("SELECT 1 FROM used_tokens WHERE token_sha256 = ?", [token_sha256]).fetchone():
                return False
            con.execute(
                "INSERT INTO used_tokens VALUES (?, ?, ?)", [token_sha256, reviewer, datetime.now(UTC).isoformat()]
            )
            return True


    def open_session(self, sid: str, reviewer: str, token_sha256: str, ttl_s: float) -> None:
        """Record a login: the session lives until it expires, its reviewer logs out or gets a new token."""
        with self._write() as con:
            con.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?)",
                        [sid, reviewer, token_sha256, time.time() + ttl_s])

    def session_token(self, sid: str, reviewer: str) -> str | None:
        """The login token hash a live session of this reviewer was opened with; None: unknown, ended or expired."""
        row = self._con().execute(
            "SELECT token_sha256 FROM sessions WHERE sid = ? AND reviewer = ? AND expires_at > ?",
            [sid, reviewer, time.time()],
        ).fetchone()
        return None if row is None else str(row[0])

    def end_session(self, sid: str) -> None:
        with self._write() as con:
            con.execute("DELETE FROM sessions WHERE sid = ?", [sid])

    def explanations(self, item: ItemKey, answer_sha: str, judge_sha: str) -> dict[str, Explanation]:
        """Criterion → the explanation stored for this answer by this judge (model and prompts)."""
        rows = self._con().execute(
            "SELECT criterion_id, evidence, evidence_verified, rationale FROM explanations"
            " WHERE submission_id = ? AND question_id = ? AND answer_sha = ? AND judge_sha = ?",
            [*item, answer_sha, judge_sha],
        ).fetchall()
        return {cid: Explanation(cid, evidence, bool(ok), rationale) for cid, evidence, ok, rationale in rows}

    def add_explanations(self, item: ItemKey, answer_sha: str, judge_sha: str,
                         explanations: Sequence[Explanation]) -> None:
        """Keep generated explanations (a regenerated one replaces the old: it is a cache, not a log)."""
        now = datetime.now(UTC).isoformat()
        with self._write(durable=False) as con:
            con.executemany(
                "INSERT OR REPLACE INTO explanations VALUES (?,?,?,?,?,?,?,?,?)",
                [(*item, e.criterion_id, answer_sha, judge_sha, e.evidence, int(e.evidence_verified), e.rationale, now)
                 for e in explanations],
            )


class StaleForm(Exception):
    """The form was rendered before a later save of the same reviewer on the same item."""


def _owner(con: sqlite3.Connection, form_id: str) -> str | None:
    row = con.execute("SELECT reviewer FROM grades WHERE form_id = ? LIMIT 1", [form_id]).fetchone()
    return None if row is None else str(row[0])


def _version(con: sqlite3.Connection, round_id: str, item: ItemKey, reviewer: str) -> int:
    row = con.execute(
        "SELECT max(seq) FROM grades WHERE round_id = ? AND submission_id = ? AND question_id = ? AND reviewer = ?",
        [round_id, *item, reviewer],
    ).fetchone()
    return int(row[0] or 0)


def _event(row: tuple) -> GradeEvent:
    seq, form_id, round_id, sid, qid, cid, reviewer, points, comment, mode, graded_at, answer_sha, qsha = row
    return GradeEvent(
        seq=seq,
        form_id=form_id,
        round_id=round_id,
        submission_id=sid,
        question_id=qid,
        criterion_id=cid,
        reviewer=reviewer,
        points=points,
        comment=comment,
        mode=mode,
        graded_at=datetime.fromisoformat(graded_at),
        answer_sha=answer_sha,
        question_sha=qsha,
    )
