"""Reviewers file with hashed tokens, signed sessions, CSRF tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.review import AuthError, add_reviewer, hash_token, load_reviewers
from pipeline.review._auth import Sessions, load_secret


def test_only_the_token_hash_is_written_and_a_new_token_voids_the_old(tmp_path: Path) -> None:
    path = tmp_path / "reviewers.yaml"
    first = add_reviewer(path, "alice")
    assert first not in path.read_text()
    assert load_reviewers(path)["alice"].token_sha256 == hash_token(first)
    second = add_reviewer(path, "alice")
    add_reviewer(path, "bob")
    reviewers = load_reviewers(path)
    assert sorted(reviewers) == ["alice", "bob"]
    assert reviewers["alice"].token_sha256 == hash_token(second) != hash_token(first)


@pytest.mark.parametrize("name", ["", "a b", "../x", "x" * 41])
def test_bad_reviewer_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(AuthError, match="reviewer name"):
        add_reviewer(tmp_path / "reviewers.yaml", name)


def test_a_broken_reviewers_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "reviewers.yaml"
    path.write_text("reviewers: [{name: alice}]\n")
    with pytest.raises(AuthError, match="reviewers.yaml"):
        load_reviewers(path)


def test_sessions_are_signed_and_csrf_is_bound_to_the_session(tmp_path: Path) -> None:
    secret = load_secret(tmp_path / ".review-secret")
    assert load_secret(tmp_path / ".review-secret") == secret  # kept across restarts
    assert (tmp_path / ".review-secret").stat().st_mode & 0o777 == 0o600
    sessions = Sessions(secret)
    session = sessions.new(reviewer="alice", mode="blind")
    cookie = sessions.dumps(session)
    assert sessions.loads(cookie) == session
    assert sessions.loads(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]) is None
    assert Sessions(b"another secret").loads(cookie) is None
    other = sessions.new(reviewer="alice")
    assert sessions.csrf_ok(session, sessions.csrf(session))
    assert not sessions.csrf_ok(other, sessions.csrf(session))
    assert not sessions.csrf_ok(session, None)
