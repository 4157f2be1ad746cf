"""The grade log: append-only, a form saved once, stale forms refused, claims, one-time tokens."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from pipeline.review import NewGrade, ReviewStore, StaleForm
from pipeline.review import _store as store_module
from pipeline.review._store import Claim

ITEM = ("s1", "1.1")
AGAINST = ("ans", "q")


def _save(store: ReviewStore, *, form_id: str | None = None, reviewer: str = "alice", version: int = 0,
          points: float = 1.0) -> bool:
    return store.add_form(
        form_id=form_id or uuid.uuid4().hex, round_id="r", item=ITEM, reviewer=reviewer,
        grades=[NewGrade("a", points), NewGrade("b", 0.0)], comment="ok", mode="review",
        answer_sha="ans", question_sha="q", expected_version=version,
    )


def test_a_form_sent_twice_is_saved_once(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "reviews.sqlite")
    form_id = uuid.uuid4().hex
    assert _save(store, form_id=form_id) is True
    assert _save(store, form_id=form_id) is False
    events = store.events("r")
    assert [(e.criterion_id, e.points) for e in events] == [("a", 1.0), ("b", 0.0)]
    assert store.has_form(form_id, "alice") and not store.has_form(form_id, "bob")


def test_a_form_id_of_another_reviewer_is_refused_not_taken_for_saved(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "reviews.sqlite")
    form_id = uuid.uuid4().hex
    assert _save(store, form_id=form_id) is True
    with pytest.raises(StaleForm, match="another reviewer"):
        _save(store, form_id=form_id, reviewer="bob")
    assert {e.reviewer for e in store.events("r")} == {"alice"}


def test_a_stale_form_changes_nothing(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "reviews.sqlite")
    _save(store)  # saved from another tab: the reviewer's version moved on
    with pytest.raises(StaleForm):
        _save(store, version=0, points=2.0)
    assert len(store.events("r")) == 2
    assert _save(store, version=max(e.seq for e in store.events("r", ITEM)), points=2.0)
    assert [e.points for e in store.events("r") if e.criterion_id == "a"] == [1.0, 2.0]  # both kept: a log


def test_grades_survive_reopening_and_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "reviews.sqlite"
    _save(ReviewStore(path))
    assert len(ReviewStore(path).events("r")) == 2
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_claims_keep_others_off_until_capacity_or_expiry(tmp_path: Path, monkeypatch) -> None:
    store = ReviewStore(tmp_path / "reviews.sqlite")
    assert store.claim("r", ITEM, "alice", 1, AGAINST) == Claim(taken=True, others=frozenset())
    assert store.claim("r", ITEM, "bob", 1, AGAINST) == Claim(taken=False, others=frozenset({"alice"}))
    assert store.active_claims("r") == {ITEM: {"alice"}}
    assert store.claim("r", ITEM, "bob", 2, AGAINST).taken  # a double-graded item takes a second reviewer
    assert store.active_claims("r") == {ITEM: {"alice", "bob"}}
    assert store.claim("r", ITEM, "carol", 2, AGAINST) == Claim(taken=False, others=frozenset({"alice", "bob"}))
    monkeypatch.setattr(store_module, "CLAIM_TTL_S", -1)  # every claim has expired
    assert store.claim("r", ITEM, "carol", 1, AGAINST).taken


def test_a_reviewer_who_graded_keeps_the_item_after_the_claim_expires(tmp_path: Path, monkeypatch) -> None:
    store = ReviewStore(tmp_path / "reviews.sqlite")
    store.claim("r", ITEM, "alice", 1, AGAINST)
    _save(store)
    monkeypatch.setattr(store_module, "CLAIM_TTL_S", -1)
    assert store.claim("r", ITEM, "bob", 1, AGAINST) == Claim(taken=False, others=frozenset({"alice"}))
    assert store.graders("r", {ITEM: AGAINST}) == {ITEM: {"alice"}}


def test_a_grade_of_a_changed_answer_holds_nothing(tmp_path: Path, monkeypatch) -> None:
    store = ReviewStore(tmp_path / "reviews.sqlite")
    store.claim("r", ITEM, "alice", 1, AGAINST)
    _save(store)
    rescored = ("new answer", "q")
    assert store.graders("r", {ITEM: rescored}) == {}
    assert store.graders("r", {ITEM: AGAINST}) == {ITEM: {"alice"}}
    monkeypatch.setattr(store_module, "CLAIM_TTL_S", -1)
    assert not store.claim("r", ITEM, "bob", 1, AGAINST).taken  # alice's grade holds the item as it was
    assert store.claim("r", ITEM, "bob", 1, rescored).taken  # not as it is now


def test_a_login_token_is_spent_once(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "reviews.sqlite")
    assert store.use_token("f" * 64, "alice") is True
    assert store.use_token("f" * 64, "alice") is False
