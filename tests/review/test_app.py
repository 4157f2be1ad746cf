"""The station over HTTP (in process): login, queue, item page, grading, and every refusal changing nothing."""

from __future__ import annotations

import html

import pytest
from review_client import ReviewerClient, parse_item
from review_rounds import ReviewRound, score
from starlette.testclient import TestClient

from pipeline.review import Station, add_reviewer
from pipeline.review._app import build_app, highlight


@pytest.fixture
def station(flagged_round: ReviewRound) -> Station:
    return Station(flagged_round.out, flagged_round.round_dir, double_share=0.25)


def _reviewer(station: Station, name: str) -> ReviewerClient:
    reviewer = ReviewerClient(TestClient(build_app(station), base_url="http://127.0.0.1"))
    response = reviewer.login(add_reviewer(station.reviewers_path, name))
    assert response.status_code == 200 and "Review queue" in response.text
    return reviewer


def _n_events(station: Station) -> int:
    return len(station.store.events(station.view.round_id))


def test_pages_need_a_login_and_a_login_link_works_once(station: Station) -> None:
    client = TestClient(build_app(station), base_url="http://127.0.0.1")
    assert client.get("/").status_code == 401
    assert client.get("/item/s00000/1.1", follow_redirects=False).headers["location"] == "/"
    token = add_reviewer(station.reviewers_path, "alice")
    assert ReviewerClient(client).login(token).status_code == 200
    again = ReviewerClient(TestClient(build_app(station), base_url="http://127.0.0.1")).login(token)
    assert again.status_code == 403 and "used already" in again.text
    assert ReviewerClient(client).login("not-a-token").status_code == 403


def test_a_reviewer_removed_from_the_file_is_signed_out(station: Station) -> None:
    alice = _reviewer(station, "alice")
    assert alice.client.get("/").status_code == 200
    station.reviewers_path.write_text("reviewers: []\n")
    assert alice.client.get("/").status_code == 401


def test_a_broken_reviewers_file_is_a_clear_page_not_a_crash(station: Station) -> None:
    alice = _reviewer(station, "alice")
    station.reviewers_path.write_text("reviewers: [{name: alice}]\n")
    response = alice.client.get("/")
    assert response.status_code == 500
    assert "reviewers.yaml" in response.text and "Reviewers file broken" in response.text


def test_item_page_shows_rubric_values_judge_and_evidence(station: Station) -> None:
    alice = _reviewer(station, "alice")
    form = alice.open_next()
    assert form is not None
    item = station.view.items[form.item]
    criteria = station.view.criteria(item.question_id)
    assert form.allowed == {c.id: [f"{v:g}" for v in allowed] for c, allowed, _ in criteria}
    assert form.checked == {cid: f"{j.points:g}" for cid, j in item.judge.items()}  # the judge's, to accept or change
    page = alice.client.get(form.path).text
    assert 'id="judge-points"' in page and "<mark data-criterion=" in page
    scored = [j for j in item.judge.values() if j.points]
    assert scored and all(j.p_max == 0.8 for j in scored)  # each criterion's own certainty, not only the item's
    assert page.count('<span class="p-max">80 %</span>') == len(scored)


def test_blind_mode_hides_the_judge_and_records_the_mode(station: Station) -> None:
    alice = _reviewer(station, "alice")
    alice.client.post("/mode", data={"csrf": alice.csrf(), "mode": "blind"})
    form = alice.open_next()
    assert form is not None and form.checked == {}
    page = alice.client.get(form.path).text
    assert "judge-points" not in page and "<mark" not in page and "fake verdict" not in page
    assert alice.submit(form).status_code == 303
    assert {e.mode for e in station.store.events(station.view.round_id)} == {"blind"}


def test_grading_saves_and_shrinks_the_queue(station: Station) -> None:
    alice = _reviewer(station, "alice")
    before = station.queue("alice", "review")
    form = alice.open_next()
    response = alice.submit(form, comment="fine")
    assert response.status_code == 303 and response.headers["location"].startswith("/next?")
    after = station.queue("alice", "review")
    assert after.available == before.available - 1
    assert after.done == before.done + (0 if station.view.items[form.item].double else 1)
    assert {e.comment for e in station.store.events(station.view.round_id)} == {"fine"}


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"points": "0.75"}, 400, "0.75 points is not allowed (allowed: 0, 0.5, 1, 1.5, 2)"),
        ({"points": "lots"}, 400, "is not a number"),
        ({"extra": "c:made-up"}, 400, "has no criterion 'made-up'"),
        ({"csrf": "forged"}, 403, "Nothing was saved"),
        ({"form_id": "x"}, 400, "no form id"),
    ],
)
def test_bad_input_gets_a_clear_message_and_saves_nothing(station: Station, change, status, message) -> None:
    alice = _reviewer(station, "alice")
    form = alice.open("/item/s00000/1.1")
    fields = {k: v for k, v in change.items() if k in ("csrf", "form_id")}
    if "extra" in change:
        fields[change["extra"]] = "1"
    response = alice.submit(form, {"q1-idea": change["points"]} if "points" in change else None, **fields)
    assert response.status_code == status
    assert message in html.unescape(response.text)
    assert _n_events(station) == 0


def test_a_tampered_item_id_is_refused(station: Station) -> None:
    alice = _reviewer(station, "alice")
    form = alice.open_next()
    response = alice.client.post("/item/s99999/1.1", data=form.hidden)
    assert response.status_code == 404 and "nothing was saved" in response.text
    assert alice.client.get("/item/s00000/9.9").status_code == 404
    assert _n_events(station) == 0


def test_a_resent_form_is_saved_once_and_a_stale_one_not_at_all(station: Station) -> None:
    alice = _reviewer(station, "alice")
    form = alice.open_next()
    stale_tab = alice.open(form.path)
    assert alice.submit(form).status_code == 303
    assert alice.submit(form).status_code == 303  # resent after a lost reply: acknowledged
    saved = _n_events(station)
    response = alice.submit(stale_tab)
    assert response.status_code == 409 and "again after this form was opened" in response.text
    assert _n_events(station) == saved
    regrade = alice.open(form.path)
    assert "You graded this item" in alice.client.get(form.path).text
    assert alice.submit(regrade).status_code == 303 and _n_events(station) == 2 * saved


def test_an_item_held_by_another_reviewer_cannot_be_graded_unless_double(station: Station) -> None:
    alice, bob = _reviewer(station, "alice"), _reviewer(station, "bob")
    single = next(i for i in station.view.in_mode("review") if not i.double)
    double = next(i for i in station.view.in_mode("review") if i.double)
    alice_single, alice_double = alice.open(f"/item/{single.submission_id}/{single.question_id}"), alice.open(
        f"/item/{double.submission_id}/{double.question_id}")
    page = bob.client.get(alice_single.path).text
    assert "assigned to alice" in page
    response = bob.submit(parse_item(alice_single.path, page.replace(" disabled", "")))
    assert response.status_code == 400 and "assigned to alice" in response.text
    assert _n_events(station) == 0
    assert bob.submit(bob.open(alice_double.path)).status_code == 303  # double grading asks for a second
    assert alice.submit(alice_double).status_code == 303
    assert station.agreement().n == 1
    assert "1 item graded by two reviewers" in alice.client.get("/").text


def test_next_never_hands_two_reviewers_the_same_single_item(station: Station) -> None:
    alice, bob = _reviewer(station, "alice"), _reviewer(station, "bob")
    seen: dict[tuple[str, str], set[str]] = {}
    for _ in range(6):
        for name, reviewer in (("alice", alice), ("bob", bob)):
            form = reviewer.open_next()
            seen.setdefault(form.item, set()).add(name)
            assert reviewer.submit(form).status_code == 303
    assert all(len(names) == 1 or station.view.items[item].double for item, names in seen.items())


def test_highlight_marks_each_quote_once_and_keeps_all_text() -> None:
    answer = "a heap keeps the k largest; a heap is fast"
    segments = highlight(answer, {"c1": "a heap", "c2": "k largest", "c3": "not there", "c4": "heap keeps"})
    assert "".join(text for text, _ in segments) == answer
    assert [(t, c) for t, c in segments if c] == [("a heap", "c1"), ("k largest", "c2")]


def test_candidate_text_is_shown_as_text_never_as_markup(flagged_round: ReviewRound) -> None:
    path = flagged_round.round_dir / "submissions" / "s00003.md"
    hostile = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
    path.write_text(path.read_text().replace("Candidate 3 answers 1.1:", f"Candidate 3 answers 1.1: {hostile}"))
    score(flagged_round.round_dir, flagged_round.out, flag_all=True)  # the station shows the answers as scored
    station = Station(flagged_round.out, flagged_round.round_dir)
    alice = _reviewer(station, "alice")
    response = alice.client.get("/item/s00003/1.1")
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in response.text
    assert "<script>alert" not in response.text and "<img src=x" not in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_an_item_whose_answer_changed_returns_to_the_queue_with_a_note(flagged_round: ReviewRound) -> None:
    station = Station(flagged_round.out, flagged_round.round_dir, double_share=0.0)
    alice = _reviewer(station, "alice")
    assert alice.submit(alice.open("/item/s00004/1.2")).status_code == 303
    assert ("s00004", "1.2") not in {r.item.key for r in station.queue("alice", "review").rows}
    path = flagged_round.round_dir / "submissions" / "s00004.md"
    path.write_text(path.read_text().replace("Candidate 4 answers 1.2", "Candidate 4 rewrote 1.2"))
    score(flagged_round.round_dir, flagged_round.out, flag_all=True)
    restarted = Station(flagged_round.out, flagged_round.round_dir, double_share=0.0)  # after re-scoring
    assert ("s00004", "1.2") in {r.item.key for r in restarted.queue("alice", "review").rows}
    page = _reviewer(restarted, "alice").client.get("/item/s00004/1.2").text
    assert "changed since you graded this item" in page and "You graded this item" not in page
