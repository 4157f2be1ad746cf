"""The station's defences (issue 21, item 8): sessions the server can end, quoted ids, per-reviewer form
ids, a health check that tells strangers nothing of the round, and a Host check.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from review_client import ReviewerClient
from review_rounds import build
from starlette.testclient import TestClient

from pipeline.review import Station, add_reviewer
from pipeline.review import _store as store_module
from pipeline.review._app import build_app

URL = "http://127.0.0.1"


@pytest.fixture
def station(flagged_round) -> Station:
    return Station(flagged_round.out, flagged_round.round_dir, double_share=1.0)  # every item: two reviewers


def _reviewer(station: Station, name: str) -> ReviewerClient:
    reviewer = ReviewerClient(TestClient(build_app(station), base_url=URL))
    assert reviewer.login(add_reviewer(station.reviewers_path, name)).status_code == 200
    return reviewer


def _replay(station: Station, cookie: str) -> int:
    """Status of the queue for a fresh client presenting an old session cookie."""
    stranger = TestClient(build_app(station), base_url=URL)
    stranger.cookies.set(station.sessions.COOKIE, cookie)
    return stranger.get("/").status_code


def test_logout_ends_the_session_on_the_server(station: Station) -> None:
    alice = _reviewer(station, "alice")
    cookie = alice.client.cookies[station.sessions.COOKIE]
    assert _replay(station, cookie) == 200
    alice.client.post("/logout", data={"csrf": alice.csrf()})
    assert _replay(station, cookie) == 401  # a copy of the cookie taken before logout is worth nothing


def test_a_new_login_token_ends_older_sessions(station: Station) -> None:
    alice = _reviewer(station, "alice")
    assert alice.client.get("/").status_code == 200
    add_reviewer(station.reviewers_path, "alice")  # a new token, e.g. the old one leaked
    assert alice.client.get("/").status_code == 401


def test_a_session_expires_on_the_server(station: Station, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = _reviewer(station, "alice")
    later = time.time() + 13 * 3600
    monkeypatch.setattr(store_module.time, "time", lambda: later)
    assert alice.client.get("/").status_code == 401


def test_bob_posting_alices_form_id_is_refused_and_stores_nothing_of_his(station: Station) -> None:
    alice, bob = _reviewer(station, "alice"), _reviewer(station, "bob")
    form = alice.open_next()
    assert form is not None and alice.submit(form).status_code == 303
    bobs = bob.open(form.path)
    response = bob.submit(bobs, form_id=form.hidden["form_id"])
    assert response.status_code == 409 and "another reviewer" in response.text
    assert {e.reviewer for e in station.store.events(station.view.round_id, form.item)} == {"alice"}
    assert bob.submit(bobs).status_code == 303  # his own form still saves
    assert {e.reviewer for e in station.store.events(station.view.round_id, form.item)} == {"alice", "bob"}


def test_ids_with_reserved_characters_open_grade_and_leave_the_queue(tmp_path) -> None:
    odd = ["a#b", "c?d", "e%2Fx", "f g&h"]
    rnd = build(tmp_path, submissions=len(odd), questions=2, flag_all=True, names=odd)
    station = Station(rnd.out, rnd.round_dir, double_share=0.0)
    alice = _reviewer(station, "alice")
    seen = []
    while (form := alice.open_next()) is not None:
        assert form.path.startswith(f"/item/{quote(form.item_key[0], safe='')}/")
        assert alice.submit(form).status_code == 303
        seen.append(form.item_key)
        assert len(seen) <= len(station.view.items), "the queue handed out an item again"
    assert sorted(seen) == sorted(station.view.items)
    assert {sid for sid, _ in seen} == set(odd)


def test_healthz_shows_no_round_data_without_a_login(station: Station) -> None:
    anonymous = TestClient(build_app(station), base_url=URL).get("/healthz").json()
    assert "round_id" not in anonymous and "items" not in anonymous and anonymous["status"] == "ok"
    alice = _reviewer(station, "alice")
    assert alice.client.get("/healthz").json()["round_id"] == station.view.round_id


def test_a_request_for_another_host_is_refused(station: Station) -> None:
    assert TestClient(build_app(station), base_url="http://evil.example").get("/healthz").status_code == 400
    assert TestClient(build_app(station), base_url="http://localhost").get("/healthz").status_code == 200
    extra = build_app(station, allowed_hosts=["127.0.0.1", "review.lan"])
    assert TestClient(extra, base_url="http://review.lan").get("/healthz").status_code == 200
