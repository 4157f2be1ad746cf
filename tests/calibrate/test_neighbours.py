"""The graded-answer neighbour feature: the vote itself, no leakage across folds, fallback, the artifact."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline.calibrate import (
    CachedEmbedder,
    CalibrationConfig,
    CalibrationData,
    calibrate,
    cross_validate,
    fit_model,
    load_calibration,
    neighbour_shares,
    save_calibration,
)
from pipeline.calibrate._fit import fold_ids

from .conftest import synthetic_data

DIM = 8


def _unit(*angles: float) -> np.ndarray:
    """Unit vectors in a plane, at the given angles (radians): cosines are cos(a − b)."""
    return np.array([[math.cos(a), math.sin(a)] for a in angles], dtype=np.float32)


def test_vote_is_the_softmax_weighted_share_of_the_k_nearest_of_the_same_question() -> None:
    pool = _unit(0.0, 0.5, 1.0, 0.0)
    pool_questions = np.array(["q1", "q1", "q1", "q2"], dtype=object)
    pool_shares = np.array([1.0, 0.5, 0.0, 0.2])
    query = _unit(0.1, 0.3)
    got = neighbour_shares(
        query, np.array(["q1", "q9"], dtype=object), pool, pool_questions, pool_shares, k=2, temperature=0.1
    )
    # Nearest two of q1 to angle 0.1: angle 0 (cos 0.1) and angle 0.5 (cos 0.4); the one at 1.0 is out.
    w1, w2 = math.exp(math.cos(0.1) / 0.1), math.exp(math.cos(0.4) / 0.1)
    assert got[0] == pytest.approx((w1 * 1.0 + w2 * 0.5) / (w1 + w2), rel=1e-5)
    assert math.isnan(got[1]), "a question with no graded answers has no neighbours"


def test_leave_one_out_never_counts_an_answer_as_its_own_neighbour() -> None:
    vectors = _unit(0.0, 0.0, 1.5, 0.3)
    questions = np.array(["q1", "q1", "q1", "q2"], dtype=object)
    shares = np.array([1.0, 0.0, 0.4, 0.7])
    got = neighbour_shares(vectors, questions, vectors, questions, shares, k=1, temperature=0.05, leave_one_out=True)
    # Two identical answers: each one's nearest other answer is the twin, with the twin's grade.
    assert got[0] == 0.0 and got[1] == 1.0 and got[2] in (0.0, 1.0)
    assert math.isnan(got[3]), "the only answer to q2 has no other graded answer"


def _with_vectors(data: CalibrationData, noise: float = 0.05, seed: int = 0) -> CalibrationData:
    """Vectors that carry the human share (an angle) plus noise: answers graded alike look alike."""
    rng = np.random.default_rng(seed)
    angle = data.human_fraction * 1.5
    vectors = np.column_stack([np.cos(angle), np.sin(angle), rng.normal(0, noise, (len(data), DIM - 2))])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keyed = {(str(s), str(q)): v for s, q, v in zip(data.submission_id, data.question_id, vectors, strict=True)}
    return data.with_embeddings(keyed, "fake-model")


def _regrade(data: CalibrationData, rows: np.ndarray, seed: int = 1) -> CalibrationData:
    """The same answers with other human grades on `rows`."""
    rng = np.random.default_rng(seed)
    human = data.human.copy()
    human[rows] = rng.integers(0, 11, size=int(rows.sum())) / 2
    graders = {name: np.where(rows, human, values) for name, values in data.graders.items()}
    return replace(data, human=human, graders=graders)


def test_a_held_out_fold_is_predicted_without_its_own_grades() -> None:
    data = _with_vectors(synthetic_data(questions=3, per_question=40, judge=lambda h, rng: rng.uniform(0, 1, len(h))))
    config = CalibrationConfig()
    fold = fold_ids(data.submission_id, 5, config.seed)
    held = fold == 0
    before = cross_validate(data, config, folds=5)
    after = cross_validate(_regrade(data, held), config, folds=5)
    np.testing.assert_array_equal(before.kfold[held], after.kfold[held])
    # The check has teeth: the other folds trained on the changed grades and moved.
    assert not np.allclose(before.kfold[~held], after.kfold[~held])
    # The neighbours carry the signal here (the judge is noise): the stage leans on them.
    assert np.corrcoef(before.kfold, data.human_fraction)[0, 1] > 0.8


def test_a_left_out_question_gets_no_neighbours_and_falls_back() -> None:
    data = _with_vectors(synthetic_data(questions=3, per_question=40))
    config = CalibrationConfig()
    question = data.question_id == "2.1"
    before = cross_validate(data, config, folds=5)
    after = cross_validate(_regrade(data, question), config, folds=5)
    np.testing.assert_array_equal(before.leave_question_out[question], after.leave_question_out[question])
    model, _ = fit_model(data.subset(~question), config.model_copy(update={"per_question": False}))
    part = data.subset(question)
    np.testing.assert_array_equal(
        model.predict(part.question_id, part.raw_fraction, None, part.embedding),
        model.predict(part.question_id, part.raw_fraction),
    )


def _fake_encode(texts: list[str]) -> np.ndarray:
    """Letter counts: texts sharing words point the same way; no model, no download."""
    vectors = np.zeros((len(texts), 26), dtype=np.float32)
    for row, text in enumerate(texts):
        for char in text.lower():
            if "a" <= char <= "z":
                vectors[row, ord(char) - ord("a")] += 1
    return vectors + 1e-3


def test_artifact_round_trip_keeps_the_pool_and_applies_identically(tmp_path: Path) -> None:
    data = synthetic_data(questions=2, per_question=40, judge=lambda h, rng: rng.uniform(0, 1, len(h)))
    words = ["stack queue", "heap tree", "graph edge", "hash table", "linked list"]
    texts = {
        (str(s), str(q)): f"{words[int(round(h * 4))]} {n}"
        for n, (s, q, h) in enumerate(zip(data.submission_id, data.question_id, data.human_fraction, strict=True))
    }
    embedder = CachedEmbedder(tmp_path / "cache", encode=_fake_encode, model_id="fake-letters")
    vectors = dict(zip(texts, embedder.embed(list(texts.values())), strict=True))
    data = data.with_embeddings(vectors, embedder.model_id)
    fitted, _ = calibrate(data, CalibrationConfig(), folds=4, n_bootstrap=0)
    pool = fitted.model.neighbours
    assert pool is not None and pool.model_id == "fake-letters" and set(pool.questions) == {"1.1", "2.1"}
    assert sum(len(q.shares) for q in pool.questions.values()) == len(data)
    assert fitted.model.stacks[0].features == ["share", "neighbours"]
    loaded = load_calibration(save_calibration(fitted, tmp_path / "cal.json"))
    assert loaded == fitted
    for answer in ("heap tree 3", "hash table", "graph edge 7"):
        got = loaded.apply("1.1", 2.0, 5.0, answer=answer, embedder=embedder)
        assert got == fitted.apply("1.1", 2.0, 5.0, answer=answer, embedder=embedder)
        share = fitted.model.predict(np.array(["1.1"], dtype=object), np.array([0.4]), None, embedder.embed([answer]))
        assert got[0] == pytest.approx(round(float(share[0]) * 5, 4))
    # No answer text (what scoring passes today): the judge-only stage applies, no embedding is made.
    assert loaded.apply("1.1", 2.0, 5.0) == (
        round(float(fitted.model.predict(np.array(["1.1"], dtype=object), np.array([0.4]))[0]) * 5, 4),
        loaded.apply("1.1", 2.0, 5.0)[1],
    )
    other = CachedEmbedder(None, encode=_fake_encode, model_id="another-model")
    with pytest.raises(ValueError, match="embedded by fake-letters, not another-model"):
        loaded.apply("1.1", 2.0, 5.0, answer="heap", embedder=other)


def test_data_hash_names_the_vectors() -> None:
    data = synthetic_data(questions=2, per_question=10)
    first, second = _with_vectors(data, seed=0), _with_vectors(data, seed=1)
    assert len({data.sha256(), first.sha256(), second.sha256()}) == 3


def test_graded_answers_without_a_judge_score_join_the_pool_but_not_a_left_out_question() -> None:
    full = _with_vectors(
        synthetic_data(questions=3, per_question=40, judge=lambda h, rng: rng.uniform(0, 1, len(h))), noise=0.3
    )
    judged = np.arange(len(full)) % 2 == 0  # a judged sample: one answer in two (60 items)
    data = full.subset(judged)
    assert data.embedding is not None and full.embedding is not None
    keys = list(zip(full.submission_id.tolist(), full.question_id.tolist(), strict=True))
    shares = {key: float(share) for key, share in zip(keys, full.human_fraction, strict=True)}
    pooled = data.with_extra_pool(dict(zip(keys, full.embedding, strict=True)), shares)
    assert pooled.extra_pool is not None and len(pooled.extra_pool) == int((~judged).sum())
    assert pooled.sha256() != data.sha256()
    config = CalibrationConfig()
    alone, more = cross_validate(data, config, folds=5), cross_validate(pooled, config, folds=5)
    error = {name: np.abs(cv.kfold - data.human_fraction).mean() for name, cv in (("alone", alone), ("more", more))}
    assert error["more"] < error["alone"], "more graded neighbours should predict better"
    # A left-out question is new: its graded answers outside the sample do not help it either.
    np.testing.assert_array_equal(alone.leave_question_out, more.leave_question_out)
