"""The graded-answer neighbour feature: how humans graded the answers most like this one, to the same question.

For an answer, the k most similar graded answers of its question (cosine of unit embeddings) vote with
their human share, weighted by softmax(cosine / temperature): near-duplicates dominate, a far tail barely
counts. A question without graded answers has no neighbours (NaN): the stage falls back to the features
it does have. The pool is part of the artifact (float16 vectors, base64), so applying needs no grade sheet.
"""

from __future__ import annotations

import base64
import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


def _weighted_shares(similarity: np.ndarray, shares: np.ndarray, k: int, temperature: float) -> np.ndarray:
    """Rows of `similarity` (query × pool, −inf where excluded) → softmax-weighted share of the top k."""
    if similarity.shape[1] == 0:
        return np.full(similarity.shape[0], math.nan)
    k = min(k, similarity.shape[1])
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    best = np.take_along_axis(similarity, top, axis=1)
    peak = best.max(axis=1, keepdims=True)
    usable = np.isfinite(peak[:, 0])
    with np.errstate(invalid="ignore"):
        weights = np.where(np.isfinite(best), np.exp((best - np.where(usable[:, None], peak, 0)) / temperature), 0)
    total = weights.sum(axis=1)
    out = np.full(similarity.shape[0], math.nan)
    out[usable] = (weights[usable] * shares[top[usable]]).sum(axis=1) / total[usable]
    return out


def neighbour_shares(
    vectors: np.ndarray,
    questions: np.ndarray,
    pool_vectors: np.ndarray,
    pool_questions: np.ndarray,
    pool_shares: np.ndarray,
    *,
    k: int,
    temperature: float,
    leave_one_out: bool = False,
) -> np.ndarray:
    """Neighbour share of each row of `vectors` among the pool answers to the same question.

    `leave_one_out`: the pool starts with the query rows themselves (query row i is pool row i) and no
    answer is its own neighbour, so fitted rows get the value a new answer would. Rows with a NaN vector,
    or whose question has no (other) graded answer, get NaN.
    """
    out = np.full(len(vectors), math.nan)
    known = np.isfinite(vectors).all(axis=1) if len(vectors) else np.zeros(0, dtype=bool)
    pool_known = np.isfinite(pool_vectors).all(axis=1) if len(pool_vectors) else np.zeros(0, dtype=bool)
    for question in set(np.asarray(questions)[known].tolist()):
        rows = np.flatnonzero(known & (np.asarray(questions) == question))
        members = np.flatnonzero(pool_known & (np.asarray(pool_questions) == question))
        similarity = vectors[rows] @ pool_vectors[members].T
        if leave_one_out:
            similarity[rows[:, None] == members[None, :]] = -np.inf
        out[rows] = _weighted_shares(similarity, np.asarray(pool_shares)[members], k, temperature)
    return out


class PoolQuestion(BaseModel):
    """One question's graded answers: human shares and their vectors (float16, little-endian, base64)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shares: list[float]
    vectors: str


class NeighbourPool(BaseModel):
    """The graded answers a calibration was fitted on, as `apply` needs them for the neighbour feature."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_id: str
    """The embedding model the vectors come from; answers must be embedded by the same one."""
    dim: int = Field(gt=0)
    k: int = Field(ge=1)
    temperature: float = Field(gt=0)
    questions: dict[str, PoolQuestion] = Field(default_factory=dict)
    _decoded: dict[str, np.ndarray] = PrivateAttr(default_factory=dict)

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        questions: np.ndarray,
        shares: np.ndarray,
        *,
        model_id: str,
        k: int,
        temperature: float,
    ) -> NeighbourPool:
        """Keep every answer with a vector, grouped by question."""
        known = np.isfinite(vectors).all(axis=1)
        grouped = {}
        for question in sorted(set(np.asarray(questions)[known].tolist())):
            rows = known & (np.asarray(questions) == question)
            packed = np.ascontiguousarray(vectors[rows], dtype="<f2").tobytes()
            grouped[question] = PoolQuestion(
                shares=[float(s) for s in shares[rows]], vectors=base64.b64encode(packed).decode("ascii")
            )
        return cls(model_id=model_id, dim=vectors.shape[1], k=k, temperature=temperature, questions=grouped)

    def vectors_of(self, question_id: str) -> np.ndarray:
        """Decoded float32 vectors of one question (decoded once, then kept)."""
        if question_id not in self._decoded:
            raw = base64.b64decode(self.questions[question_id].vectors)
            self._decoded[question_id] = np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(-1, self.dim)
        return self._decoded[question_id]

    def predict(self, question_ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Neighbour share of each answer (NaN: no vector, or a question with no graded answers)."""
        out = np.full(len(question_ids), math.nan)
        known = np.isfinite(vectors).all(axis=1)
        for question in set(np.asarray(question_ids)[known].tolist()):
            if question not in self.questions:
                continue
            rows = known & (np.asarray(question_ids) == question)
            pool = self.vectors_of(question)
            out[rows] = _weighted_shares(
                vectors[rows] @ pool.T,
                np.asarray(self.questions[question].shares),
                self.k,
                self.temperature,
            )
        return out
