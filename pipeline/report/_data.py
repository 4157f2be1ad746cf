"""What each section of the round report shows, computed with DuckDB over the result tables.

Every section is a pure read of one round's rows, returned as pydantic models, so tests can check the
numbers without parsing HTML and the renderer only lays them out. Unscored rows (points NULL) are
counted separately and never averaged in as zeros.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from pipeline import __version__
from pipeline.reasons import ReviewKind
from pipeline.store import connect, partition_dir
from rubric_schema import natural_key

ROUND_TABLES = ("submissions", "item_scores", "criterion_scores", "judge_calls", "executor_runs")
"""The tables partitioned by round."""


class ReportError(Exception):
    """The output folder or the round cannot be reported on; the message names which and why."""


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class RejectedRow(_Row):
    """A file of the round that was not a submission, with the reason ingest gave."""

    submission_id: str
    source_file: str | None
    reason: str | None


class RoundTotals(_Row):
    """Counts and totals of the round's submissions."""

    n_submissions: int
    statuses: dict[str, int]
    """Submissions per status (scored, needs_review, rejected, ...)."""
    rejected: list[RejectedRow]
    max_total: float | None
    raw_totals: list[float]
    """Raw totals of the submissions that have one (rejected files have none)."""
    calibrated_totals: list[float]
    scored_at: datetime | None
    """When the round's rows were written (latest)."""


class QuestionStat(_Row):
    """One question's difficulty: mean and sd of points as a fraction of its max."""

    question_id: str
    max_points: float | None
    n: int
    """Items with a raw score (a missing answer counts, as 0)."""
    n_missing: int
    n_unscored: int
    raw_mean: float | None
    raw_sd: float | None
    calibrated_mean: float | None
    calibrated_sd: float | None


class CriterionStat(_Row):
    """How often one criterion earned points, over the items where it was scored."""

    question_id: str
    criterion_id: str
    source: str | None
    max_points: float | None
    n: int
    """Scored rows (points not NULL)."""
    n_unscored: int
    hits: int
    """Rows with points > 0."""
    full: int
    """Rows with the criterion's full points."""
    hit_rate: float | None
    mean_fraction: float | None


class CodeTaskStat(_Row):
    """One code task's runs in the round: tests passed, speed and complexity figures."""

    task_id: str
    question_id: str
    n_submissions: int
    n_tests: int
    n_passed: int
    n_errors: int
    """Runs with an error or a status other than ok."""
    speed_ratios: list[float]
    """Candidate time over reference time, one per timed test."""
    median_speed_ratio: float | None
    max_speed_ratio: float | None
    median_complexity: float | None
    devices: list[str]


class EvidenceRow(_Row):
    """A criterion of a queued item with the candidate's quoted evidence (candidate-controlled text)."""

    criterion_id: str
    points: float | None
    max_points: float | None
    evidence: str
    evidence_verified: bool | None


class ReviewItem(_Row):
    """An item the pipeline asks a human to look at, with its reasons and evidence."""

    submission_id: str
    question_id: str
    kind: str | None
    raw_points: float | None
    max_points: float | None
    confidence: float | None
    injection_suspected: bool
    review_kind: str
    """The most urgent kind among the item's reasons (pipeline.reasons.ReviewKind)."""
    reasons: list[str]
    evidence: list[EvidenceRow]


class ModelUse(_Row):
    """Judge calls of one model with one prompt version."""

    model: str | None
    prompt_sha: str | None
    calls: int
    cache_hits: int
    errors: int
    median_latency_ms: float | None


class CalibrationFit(_Row):
    """Agreement of one calibration with human grades on one question."""

    calibration_id: str
    question_id: str
    method: str | None
    n: int | None
    pearson: float | None
    qwk: float | None
    mae: float | None


class Provenance(_Row):
    """How the round's numbers were produced, so a score can be rebuilt."""

    rubric_shas: list[str]
    gradeflow_versions: list[str]
    """Versions that wrote the round's rows."""
    models: list[ModelUse]
    prompt_shas: list[str]
    calibration_ids: list[str]
    calibration_fits: list[CalibrationFit]
    report_version: str
    """The gradeflow version that wrote this report."""


class HumanChange(_Row):
    """An item whose final points a reviewer decided, beside what the pipeline had given it."""

    submission_id: str
    question_id: str
    max_points: float | None
    pipeline_points: float | None
    """Calibrated points, else the judge's raw points: what the item had before review."""
    final_points: float | None
    decided_by: str
    comments: list[str]


def human_changes(con: duckdb.DuckDBPyConnection, round_id: str) -> list[HumanChange]:
    """Items decided by reviewers (gradeflow review), largest change first; none for rounds never reviewed."""
    columns = {row[0] for row in con.execute("DESCRIBE item_scores").fetchall()}
    if "decided_by" not in columns:  # tables written before the review station existed
        return []
    rows = _records(
        con,
        "SELECT i.submission_id, i.question_id, i.max_points,"
        " coalesce(i.calibrated_points, i.raw_points) AS pipeline_points, i.final_points, i.decided_by,"
        " list(DISTINCT h.reviewer || ': ' || h.comment ORDER BY h.reviewer || ': ' || h.comment)"
        "   FILTER (WHERE coalesce(h.comment, '') <> '') AS comments"
        " FROM item_scores i LEFT JOIN human_reviews h"
        "   ON h.round_id = i.round_id AND h.submission_id = i.submission_id AND h.question_id = i.question_id"
        "   AND h.current AND NOT h.stale"
        " WHERE i.round_id = ? AND i.decided_by LIKE 'human:%' GROUP BY ALL",
        [round_id],
    )
    changes = [HumanChange(**(r | {"comments": r["comments"] or []})) for r in rows]
    return sorted(changes, key=lambda c: (-abs((c.final_points or 0) - (c.pipeline_points or 0)), c.submission_id,
                                          natural_key(c.question_id)))


class ReportData(_Row):
    """Everything the report shows about one round."""

    round_id: str
    generated_at: datetime
    summary: RoundTotals
    questions: list[QuestionStat]
    criteria: list[CriterionStat]
    code: list[CodeTaskStat]
    review: list[ReviewItem]
    provenance: Provenance
    human: list[HumanChange] = []
    """What reviewers changed (the review station)."""


def rounds_in(out_dir: str | Path) -> list[str]:
    """Round ids that have a submissions partition under the output folder."""
    folder = Path(out_dir) / "submissions"
    return sorted(p.name.split("=", 1)[1] for p in folder.glob("round_id=*") if p.is_dir())


def pick_round(out_dir: str | Path, round_id: str | None) -> str:
    """Choose the round to report: the one asked for, else the only one, else the one scored last."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ReportError(f"{out_dir}: no such folder (write one: gradeflow score ROUND_DIR --out DIR)")
    rounds = rounds_in(out_dir)
    if round_id is not None:
        if not partition_dir(out_dir, "submissions", round_id).is_dir():
            listed = ", ".join(rounds) or "none"
            raise ReportError(f"{out_dir}: round {round_id!r} was never scored here (rounds: {listed})")
        return round_id
    if not rounds:
        raise ReportError(f"{out_dir}: no submissions/round_id=* folder; nothing was scored here")
    if len(rounds) == 1:
        return rounds[0]
    con = connect(out_dir)
    try:
        latest = con.execute(
            "SELECT round_id FROM submissions GROUP BY round_id"
            " ORDER BY max(scored_at) DESC NULLS LAST, round_id DESC"
        ).fetchone()
    finally:
        con.close()
    return latest[0] if latest else rounds[-1]


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    result = con.execute(sql, params)
    names = [d[0] for d in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def round_summary(con: duckdb.DuckDBPyConnection, round_id: str) -> RoundTotals:
    """Submissions per status, rejected files with reasons, and the totals for the histogram."""
    rows = _records(
        con,
        "SELECT submission_id, source_file, status, status_reason, raw_total, calibrated_total, max_total,"
        " scored_at FROM submissions WHERE round_id = ? ORDER BY submission_id",
        [round_id],
    )
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"] or "unknown"] = statuses.get(row["status"] or "unknown", 0) + 1
    max_totals = [r["max_total"] for r in rows if r["max_total"] is not None]
    stamps = [r["scored_at"] for r in rows if r["scored_at"] is not None]
    return RoundTotals(
        n_submissions=len(rows),
        statuses=dict(sorted(statuses.items())),
        rejected=[
            RejectedRow(
                submission_id=r["submission_id"], source_file=r["source_file"], reason=r["status_reason"]
            )
            for r in rows
            if r["status"] == "rejected"
        ],
        max_total=max(max_totals) if max_totals else None,
        raw_totals=[r["raw_total"] for r in rows if r["raw_total"] is not None and r["status"] != "rejected"],
        calibrated_totals=[r["calibrated_total"] for r in rows if r["calibrated_total"] is not None],
        scored_at=max(stamps) if stamps else None,
    )


def question_stats(con: duckdb.DuckDBPyConnection, round_id: str) -> list[QuestionStat]:
    """Mean ± sd of raw (and calibrated) points over max, per question; unscored items left out."""
    rows = _records(
        con,
        """
        SELECT question_id,
               max(max_points) AS max_points,
               count(raw_points)::INT AS n,
               count(*) FILTER (WHERE kind = 'missing')::INT AS n_missing,
               count(*) FILTER (WHERE raw_points IS NULL)::INT AS n_unscored,
               avg(raw_points / nullif(max_points, 0)) AS raw_mean,
               stddev_samp(raw_points / nullif(max_points, 0)) AS raw_sd,
               avg(calibrated_points / nullif(max_points, 0)) AS calibrated_mean,
               stddev_samp(calibrated_points / nullif(max_points, 0)) AS calibrated_sd
        FROM item_scores WHERE round_id = ? GROUP BY question_id
        """,
        [round_id],
    )
    return sorted((QuestionStat(**r) for r in rows), key=lambda s: natural_key(s.question_id))


def criterion_stats(con: duckdb.DuckDBPyConnection, round_id: str) -> list[CriterionStat]:
    """Hit rate (points > 0) and mean fraction per criterion; rule adjustments are not criteria."""
    rows = _records(
        con,
        """
        SELECT question_id, criterion_id,
               string_agg(DISTINCT source, '+' ORDER BY source) AS source,
               max(max_points) AS max_points,
               count(points)::INT AS n,
               count(*) FILTER (WHERE points IS NULL)::INT AS n_unscored,
               count(*) FILTER (WHERE points > 0)::INT AS hits,
               count(*) FILTER (WHERE points >= max_points - 1e-9)::INT AS full,
               avg((points > 0)::DOUBLE) AS hit_rate,
               avg(points / max_points) AS mean_fraction
        FROM criterion_scores
        WHERE round_id = ? AND coalesce(source, '') <> 'rule' AND max_points > 0
        GROUP BY question_id, criterion_id
        """,
        [round_id],
    )
    return sorted(
        (CriterionStat(**r) for r in rows),
        key=lambda s: (natural_key(s.question_id), natural_key(s.criterion_id)),
    )


def code_stats(con: duckdb.DuckDBPyConnection, round_id: str) -> list[CodeTaskStat]:
    """Per code task: tests passed, runs that failed to run, speed ratios and complexity exponents."""
    rows = _records(
        con,
        """
        SELECT task_id, min(question_id) AS question_id,
               count(DISTINCT submission_id)::INT AS n_submissions,
               count(*)::INT AS n_tests,
               count(*) FILTER (WHERE passed)::INT AS n_passed,
               count(*) FILTER (
                   WHERE coalesce(error, '') <> '' OR coalesce(status, 'ok') <> 'ok'
               )::INT AS n_errors,
               list(speed_ratio ORDER BY speed_ratio) FILTER (WHERE speed_ratio IS NOT NULL) AS speed_ratios,
               median(speed_ratio) AS median_speed_ratio,
               max(speed_ratio) AS max_speed_ratio,
               median(complexity_exponent) AS median_complexity,
               list(DISTINCT device ORDER BY device) FILTER (WHERE device IS NOT NULL) AS devices
        FROM executor_runs WHERE round_id = ? GROUP BY task_id
        """,
        [round_id],
    )
    stats = [
        CodeTaskStat(**(r | {"speed_ratios": r["speed_ratios"] or [], "devices": r["devices"] or []}))
        for r in rows
    ]
    return sorted(stats, key=lambda s: (natural_key(s.question_id), s.task_id))


_KIND_ORDER = {kind.value: index for index, kind in enumerate(ReviewKind)}


def review_counts(queue: list[ReviewItem]) -> dict[str, int]:
    """Items in the review queue per kind, in the queue's order."""
    counts: dict[str, int] = {}
    for item in queue:
        counts[item.review_kind] = counts.get(item.review_kind, 0) + 1
    return counts


def review_queue(con: duckdb.DuckDBPyConnection, round_id: str) -> list[ReviewItem]:
    """Items needing review, grouped by their most urgent kind of reason (items waiting for the judge
    first), then suspected injections, unscored items, and rising confidence.
    """
    items = _records(
        con,
        "SELECT submission_id, question_id, kind, raw_points, max_points, confidence,"
        " coalesce(injection_suspected, false) AS injection_suspected,"
        " coalesce(review_kind, 'other') AS review_kind, review_reason"
        " FROM item_scores WHERE round_id = ? AND needs_review",
        [round_id],
    )
    evidence: dict[tuple[str, str], list[EvidenceRow]] = {}
    for row in _records(
        con,
        "SELECT c.submission_id, c.question_id, c.criterion_id, c.points, c.max_points, c.evidence,"
        " c.evidence_verified FROM criterion_scores c"
        " JOIN item_scores i USING (round_id, submission_id, question_id)"
        " WHERE c.round_id = ? AND i.needs_review AND coalesce(c.evidence, '') <> ''",
        [round_id],
    ):
        key = (row.pop("submission_id"), row.pop("question_id"))
        evidence.setdefault(key, []).append(EvidenceRow(**row))
    queue = [
        ReviewItem(
            **{k: v for k, v in item.items() if k != "review_reason"},
            reasons=[r.strip() for r in (item["review_reason"] or "").split("; ") if r.strip()],
            evidence=sorted(
                evidence.get((item["submission_id"], item["question_id"]), []),
                key=lambda e: natural_key(e.criterion_id),
            ),
        )
        for item in items
    ]
    return sorted(
        queue,
        key=lambda q: (
            _KIND_ORDER.get(q.review_kind, len(_KIND_ORDER)),
            not q.injection_suspected,
            q.raw_points is not None,
            q.confidence if q.confidence is not None else float("inf"),
            q.submission_id,
            natural_key(q.question_id),
        ),
    )


def provenance(con: duckdb.DuckDBPyConnection, round_id: str) -> Provenance:
    """Rubric shas, code versions, judge models with prompt shas, and the calibration used."""

    def distinct(sql: str) -> list[str]:
        return sorted({row[0] for row in con.execute(sql, [round_id] * sql.count("?")).fetchall() if row[0]})

    calibration_ids = distinct("SELECT calibration_id FROM submissions WHERE round_id = ?")
    fits = (
        _records(
            con,
            "SELECT calibration_id, question_id, method, n, pearson, qwk, mae FROM calibration_fits"
            " WHERE list_contains(?::VARCHAR[], calibration_id)",
            [calibration_ids],
        )
        if calibration_ids
        else []
    )
    models = _records(
        con,
        """
        SELECT model, prompt_sha, count(*)::INT AS calls,
               count(*) FILTER (WHERE cache_hit)::INT AS cache_hits,
               count(*) FILTER (WHERE error IS NOT NULL AND error <> '')::INT AS errors,
               median(latency_ms) AS median_latency_ms
        FROM judge_calls WHERE round_id = ? GROUP BY model, prompt_sha ORDER BY calls DESC, model, prompt_sha
        """,
        [round_id],
    )
    return Provenance(
        rubric_shas=distinct(
            "SELECT rubric_sha FROM submissions WHERE round_id = ?"
            " UNION SELECT rubric_sha FROM item_scores WHERE round_id = ?"
            " UNION SELECT rubric_sha FROM judge_calls WHERE round_id = ?"
        ),
        gradeflow_versions=distinct(
            " UNION ".join(
                f"SELECT gradeflow_version FROM {table} WHERE round_id = ?"
                for table in ROUND_TABLES
            )
        ),
        models=[ModelUse(**m) for m in models],
        prompt_shas=distinct(
            "SELECT prompt_sha FROM item_scores WHERE round_id = ? UNION SELECT prompt_sha FROM judge_calls"
            " WHERE round_id = ?"
        ),
        calibration_ids=calibration_ids,
        calibration_fits=sorted(
            (CalibrationFit(**f) for f in fits), key=lambda f: (f.calibration_id, natural_key(f.question_id))
        ),
        report_version=__version__,
    )


def load_report_data(out_dir: str | Path, round_id: str) -> ReportData:
    """Read every section of one round's report from the tables under `out_dir`."""
    con = connect(out_dir)
    try:
        return ReportData(
            round_id=round_id,
            generated_at=datetime.now(UTC),
            summary=round_summary(con, round_id),
            questions=question_stats(con, round_id),
            criteria=criterion_stats(con, round_id),
            code=code_stats(con, round_id),
            review=review_queue(con, round_id),
            provenance=provenance(con, round_id),
            human=human_changes(con, round_id),
        )
    finally:
        con.close()
