"""The calibration queue: the answers `propose` picks are served first, graded blind, and leave once graded."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from review_client import ReviewerClient
from review_rounds import ReviewRound, build
from starlette.testclient import TestClient

from gradeflow_cli.review import calibration_plan
from pipeline.review import CalibrationPlan, Station, add_reviewer
from pipeline.review._app import build_app
from pipeline.store import write_partition

K = 2


@pytest.fixture
def calibrated(small_round: ReviewRound) -> tuple[Station, CalibrationPlan]:
    plan = calibration_plan(small_round.out, K)
    return Station(small_round.out, small_round.round_dir, double_share=0.0, calibration=plan), plan


def _reviewer(station: Station, name: str) -> ReviewerClient:
    reviewer = ReviewerClient(TestClient(build_app(station), base_url="http://127.0.0.1"))
    assert reviewer.login(add_reviewer(station.reviewers_path, name)).status_code == 200
    return reviewer


def _counts(page: str) -> dict[str, str]:
    """Question → "graded/K" as the queue page's calibration counts say."""
    found = re.findall(r'data-question="([^"]+)" data-graded="(\d+)" data-wanted="(\d+)"', page)
    return {q: f"{g}/{w}" for q, g, w in found}


def test_the_plan_asks_k_per_question_less_the_grades_a_question_has(small_round: ReviewRound) -> None:
    plan = calibration_plan(small_round.out, K)
    assert plan.per_question == K and len(plan.items) == K * len(small_round.question_ids)
    assert {q for _, q in plan.items} == set(small_round.question_ids)
    review = {"round_id": small_round.round_id, "submission_id": plan.items[0][0], "question_id": plan.items[0][1],
              "criterion_id": "c", "reviewer": "alice", "points": 1.0, "item_points": 1.0, "mode": "blind",
              "graded_at": datetime.now(UTC), "current": True, "stale": False}  # fmt: skip
    write_partition(small_round.out, "human_reviews", small_round.round_id, [review])
    again = calibration_plan(small_round.out, K)
    first_question = plan.items[0][1]
    assert plan.items[0] not in again.items
    assert sum(1 for _, q in again.items if q == first_question) == K - 1
    assert again.earlier == {first_question: 1}
    assert calibration_plan(small_round.out, 0).items == ()


def test_next_serves_the_calibration_queue_first_then_the_review_queue(calibrated) -> None:
    station, plan = calibrated
    alice = _reviewer(station, "alice")
    page = alice.client.get("/").text
    assert "Calibration queue" in page
    assert _counts(page) == {q: f"0/{K}" for q in dict.fromkeys(q for _, q in plan.items)}
    served = []
    while (form := alice.open_next()) is not None:
        served.append(form.item_key)
        assert alice.submit(form).status_code == 303
    assert served[: len(plan.items)] == list(plan.items)
    review = [i.key for i in station.view.in_mode("review")]
    assert set(served[len(plan.items):]) == set(review) - set(plan.items)
    page = alice.client.get("/").text
    assert _counts(page) == {q: f"{K}/{K}" for q in dict.fromkeys(q for _, q in plan.items)}
    assert 'id="calibration-done"' in page


def test_calibration_items_are_graded_blind_in_review_mode_and_leave_the_queue_once_graded(calibrated) -> None:
    station, plan = calibrated
    alice, bob = _reviewer(station, "alice"), _reviewer(station, "bob")
    first = plan.items[0]
    page = alice.client.get("/item/{}/{}".format(*first)).text
    assert "Calibration item, graded blind" in page and 'id="judge-points"' not in page
    assert " checked" not in page  # nothing pre-filled from the judge
    assert all(f"/item/{s}/{q}" not in alice.client.get("/").text.split('id="queue"')[1] for s, q in plan.items)
    form = alice.open_next()
    assert form is not None and form.item_key == first and not form.checked
    assert alice.submit(form).status_code == 303
    events = station.store.events(station.view.round_id, first)
    assert events and {e.mode for e in events} == {"blind"}  # recorded as blind, like any grade, in the log
    assert first not in station.calibration_pending()
    queue = bob.client.get("/").text
    assert "/item/{}/{}".format(*first) not in queue.split('id="queue"')[0]  # gone from the calibration queue
    assert _counts(queue)[first[1]] == f"1/{K}"
    nxt = bob.open_next()
    assert nxt is not None and nxt.item_key == plan.items[1]
    again = alice.client.get("/item/{}/{}".format(*first)).text
    assert 'id="judge-points"' in again  # graded: an ordinary item now, the judge shown in review mode


def test_the_calibration_queue_can_be_open_and_is_off_without_a_plan(small_round: ReviewRound) -> None:
    plan = calibration_plan(small_round.out, K)
    station = Station(small_round.out, small_round.round_dir, calibration=plan, calibration_blind=False)
    alice = _reviewer(station, "alice")
    page = alice.client.get("/item/{}/{}".format(*plan.items[0])).text
    assert 'id="judge-points"' in page and "Calibration item" not in page
    plain = Station(small_round.out, small_round.round_dir)
    bob = _reviewer(plain, "bob")
    assert "Calibration queue" not in bob.client.get("/").text
    nxt = bob.open_next()
    assert nxt is not None and nxt.item_key == plain.view.in_mode("review")[0].key


def test_the_explanation_of_a_calibration_item_stays_hidden(tmp_path) -> None:
    rnd = build(tmp_path, submissions=3, questions=2, explained=True)
    plan = calibration_plan(rnd.out, 1)
    station = Station(rnd.out, rnd.round_dir, calibration=plan)
    alice = _reviewer(station, "alice")
    body = alice.client.get("/explanation/{}/{}".format(*plan.items[0])).json()
    assert body["state"] == "none" and body["criteria"] == {}
    page = alice.client.get("/item/{}/{}".format(*plan.items[0])).text
    assert "fake verdict" not in page  # the judge's rationale and evidence are hidden too
