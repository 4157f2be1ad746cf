"""The calibration artifact: fitted numbers, what they were fitted on, and how well they do (cross-validated).

A JSON file, versioned by `format`; `load_calibration` validates it, `Calibration.apply` is what the
scoring flow calls per item to fill calibrated_points and expected_error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from pipeline import __version__
from pipeline.calibrate._data import CalibrationData, JoinSummary
from pipeline.calibrate._evaluate import CrossValidated, Evaluation, cross_validate, evaluate
from pipeline.calibrate._fit import CalibrationConfig, CalibrationModel, fit_model
from pipeline.calibrate._metrics import Scale, infer_scale
from pipeline.embed import Embedder
from pipeline.files import write_atomic
from pipeline.reasons import ReviewKind, ReviewReason, joined
from rubric_schema import Exam

FORMAT = "gradeflow.calibration/2"
"""Artifact format; a reader refuses any other. /2: second-stage stacks and the graded-answer pool."""


class CalibrationFileError(Exception):
    """A calibration file that cannot be read; the message names the file and the field."""


class Calibration(BaseModel):
    """A fitted calibration with its provenance and its cross-validated agreement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["gradeflow.calibration/2"] = FORMAT
    calibration_id: str
    created_at: datetime
    gradeflow_version: str
    config: CalibrationConfig
    data_sha256: str
    """Hash of the joined scores and grades it was fitted on (`CalibrationData.sha256`)."""
    sources: dict[str, str] = Field(default_factory=dict)
    """Where the data came from (round output, grade sheet), for the reader; not used to apply it."""
    join: JoinSummary | None = None
    scale: Scale
    model: CalibrationModel
    review_threshold: float = Field(ge=0)
    """Items whose expected error exceeds this share of their maximum go to review."""
    evaluation: Evaluation | None = None
    references: dict[str, str] = Field(default_factory=dict)
    """Question id → its reference's unit vector (base64 little-endian float16), bound by
    `with_references`: `apply` then computes the answer–reference similarity itself."""
    reference_model: str = ""
    """The embedding model of `references`."""
    _embedder: Embedder | None = PrivateAttr(default=None)
    """What `apply` and `with_references` embed with when they are given no embedder (`embedding_with`)."""

    def embedding_with(self, embedder: Embedder) -> Calibration:
        """A copy that embeds answers and references with `embedder` when a call names none: the scoring
        flow's, on the cache root it read at the edge (the artifact itself is unchanged).
        """
        bound = self.model_copy()
        bound._embedder = embedder
        return bound

    def _embedder_for(self, embedder: Embedder | None) -> Embedder:
        chosen = embedder or self._embedder
        if chosen is None:
            raise ValueError(
                f"calibration {self.calibration_id} embeds answers: pass an embedder (or bind one with "
                "embedding_with), e.g. pipeline.embed.default_embedder(<the cache root>)"
            )
        return chosen

    def with_references(self, exam: Exam, embedder: Embedder | None = None) -> Calibration:
        """A copy with the exam's reference answers embedded, so its similarity stage applies to
        items scored without a similarity (the scoring flow passes the answer text only).

        A question's reference is its criteria's reference texts joined; questions without one are left out.
        """
        texts = {
            q.id: "\n".join(c.reference for c in q.all_criteria() if c.reference.strip()) for q in exam.questions
        }
        texts = {q: text for q, text in texts.items() if text}
        if not texts or not any("similarity" in stack.features for stack in self.model.stacks):
            return self
        embedder = self._embedder_for(embedder)
        vectors = embedder.embed(list(texts.values()))
        encoded = {q: base64.b64encode(v.astype("<f2").tobytes()).decode() for q, v in zip(texts, vectors, strict=True)}
        return self.model_copy(update={"references": encoded, "reference_model": embedder.model_id})

    def apply(
        self,
        question_id: str,
        raw_points: float,
        max_points: float,
        *,
        confidence: float | None = None,
        similarity: float | None = None,
        answer: str | None = None,
        embedder: Embedder | None = None,
    ) -> tuple[float, float]:
        """Calibrated points and expected absolute error (both in points) for one judged item.

        A question the calibration never saw gets the global map; raw points are read as a share of
        `max_points`, clipped to 0…1. `similarity` (answer to reference) and `answer` (its text, embedded
        for the graded-answer neighbours, by `embedder` or the one bound by `embedding_with`) are used only by a
        calibration fitted with them; without them the stages that do not need them apply. With references
        bound (`with_references`) and no `similarity`, the similarity is computed from `answer`.
        """
        if raw_points is None or not math.isfinite(raw_points):
            raise ValueError(f"question {question_id}: raw_points must be a number, got {raw_points!r}")
        if not max_points > 0:
            raise ValueError(f"question {question_id}: max_points must be positive, got {max_points!r}")
        share = np.array([min(max(raw_points / max_points, 0.0), 1.0)])
        ids = np.array([question_id], dtype=object)
        vector = self._embedding(question_id, similarity, answer, embedder)
        if similarity is None and vector is not None and question_id in self.references:
            reference = np.frombuffer(base64.b64decode(self.references[question_id]), dtype="<f2")
            similarity = float(vector[0] @ reference.astype(np.float32))
        calibrated = self.model.predict(
            ids,
            share,
            np.array([math.nan if similarity is None else similarity]),
            vector if self.model.neighbours is not None else None,
        )
        error = self.model.expected_error(ids, calibrated, np.array([math.nan if confidence is None else confidence]))
        return round(float(calibrated[0]) * max_points, 4), round(float(error[0]) * max_points, 4)

    def _embedding(
        self, question_id: str, similarity: float | None, answer: str | None, embedder: Embedder | None
    ) -> np.ndarray | None:
        """The answer's vector when a stage can use it (the neighbour pool, a bound reference); else None."""
        pool = self.model.neighbours
        wants_reference = similarity is None and question_id in self.references
        if (pool is None and not wants_reference) or answer is None or not answer.strip():
            return None
        embedder = self._embedder_for(embedder)
        expected = [(pool.model_id, "graded answers")] if pool is not None else []
        expected += [(self.reference_model, "references")] if wants_reference else []
        for model_id, what in expected:
            if embedder.model_id != model_id:
                raise ValueError(
                    f"calibration {self.calibration_id}: {what} were embedded by {model_id}, not {embedder.model_id}"
                )
        return embedder.embed([answer])

    def review_reason(
        self, expected_error: float, max_points: float, question_id: str | None = None
    ) -> ReviewReason | None:
        """Why an item goes to review, or None: its expected error is above the threshold, or (given its
        question) the judge orders that question's graded answers the wrong way and was dropped there.
        """
        said: list[str] = []
        fit = self.model.questions.get(question_id) if question_id is not None else None
        if fit is not None and fit.judge_reversed:
            r = "" if fit.judge_correlation is None else f" (r = {fit.judge_correlation:.2f})"
            said.append(
                f"calibration: the judge orders this question's {fit.n} graded answers against the humans{r}; "
                "judge ignored, scored from graded neighbours and reference similarity"
            )
        limit = self.review_threshold * max_points
        if expected_error > limit:
            said.append(f"calibration expects an error of {expected_error:.2f} points (review above {limit:.2f})")
        reasons = [ReviewReason(kind=ReviewKind.CALIBRATION, detail=sentence) for sentence in said]
        return joined(reasons) if reasons else None

    def fits_rows(self) -> list[dict[str, Any]]:
        """Rows of the calibration_fits table: one per question and "*" for all items (k-fold metrics).

        ci_low/ci_high are the bootstrap 95 % interval of the QWK; k is the question's graded items in the
        fit, weight its own map's weight against the global map, judge_reversed the few-grade guard.
        """
        if self.evaluation is None:
            return []
        evaluation = self.evaluation
        pooled = next(row for row in evaluation.pooled if row.key == "kfold")
        rows = [
            {
                "question_id": "*",
                "method": f"global:{self.model.global_mapping.method}",
                "n": pooled.n,
                **{m: pooled.metrics[m].value for m in ("pearson", "spearman", "qwk", "mae", "exact", "adjacent")},
                "ci_low": pooled.metrics["qwk"].ci_low,
                "ci_high": pooled.metrics["qwk"].ci_high,
            }
        ]
        rows += [
            {
                "question_id": q.question_id,
                "method": q.method,
                "n": q.n,
                **{m: q.calibrated[m] for m in ("pearson", "spearman", "qwk", "mae", "exact", "adjacent")},
                "ci_low": q.qwk_ci_low,
                "ci_high": q.qwk_ci_high,
            }
            for q in evaluation.per_question
        ]
        return [
            {
                "calibration_id": self.calibration_id,
                "gradeflow_version": self.gradeflow_version,
                **row,
                **self._question_columns(row["question_id"]),
            }
            for row in rows
        ]

    def _question_columns(self, question_id: str) -> dict[str, Any]:
        fit = self.model.questions.get(question_id)
        if fit is None:
            return {"k": None, "weight": None, "judge_reversed": None}
        return {"k": fit.n, "weight": fit.weight, "judge_reversed": fit.judge_reversed}


def calibrate(
    data: CalibrationData,
    config: CalibrationConfig | None = None,
    *,
    folds: int = 5,
    n_bootstrap: int = 1000,
    scale: Scale | None = None,
    join: JoinSummary | None = None,
    sources: dict[str, str] | None = None,
) -> tuple[Calibration, CrossValidated]:
    """Fit on all of `data`, evaluate by cross-validation, and bundle both into an artifact.

    Also returns the out-of-fold predictions, which the report plots (the artifact keeps only numbers
    needed to apply it and the metrics).
    """
    config = config or CalibrationConfig()
    if len(data) < 2:
        raise ValueError(f"calibration needs at least 2 items with a judge score and a human grade, got {len(data)}")
    if scale is None:
        grades = np.concatenate(list(data.graders.values()))
        maxima = np.concatenate([data.max_points] * len(data.graders))
        scale = infer_scale(grades[np.isfinite(grades)], maxima[np.isfinite(grades)])
    model, inner_error = fit_model(data, config)
    threshold = float(np.quantile(inner_error, 1 - config.review_share)) if config.review_share > 0 else math.inf
    cv = cross_validate(data, config, folds=folds)
    methods = {q: model.method_of(q) for q in sorted(set(data.question_id.tolist()))}
    evaluation = evaluate(data, cv, scale, methods=methods, n_bootstrap=n_bootstrap, seed=config.seed)
    data_sha = data.sha256()
    identity = hashlib.sha256(f"{data_sha}:{config.model_dump_json()}".encode()).hexdigest()[:12]
    calibration = Calibration(
        calibration_id=f"cal-{identity}",
        created_at=datetime.now(UTC),
        gradeflow_version=__version__,
        config=config,
        data_sha256=data_sha,
        sources=sources or {},
        join=join,
        scale=scale,
        model=model,
        review_threshold=threshold if math.isfinite(threshold) else 1.0,
        evaluation=evaluation,
    )
    return calibration, cv


def save_calibration(calibration: Calibration, path: str | Path) -> Path:
    """Write the artifact whole or not at all: a scoring run never reads half a calibration."""
    return write_atomic(Path(path), calibration.model_dump_json(indent=2))


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate an artifact; errors name the file and the field that is wrong."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CalibrationFileError(f"{path}: cannot read: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CalibrationFileError(f"{path}: not JSON: {error}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        hint = (
            " (an older gradeflow wrote it: run gradeflow calibrate again)"
            if found == "gradeflow.calibration/1"
            else ""
        )
        raise CalibrationFileError(f"{path}: format: expected {FORMAT!r}, found {found!r}{hint}")
    try:
        return Calibration.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5])
        raise CalibrationFileError(f"{path}: {problems}") from None
