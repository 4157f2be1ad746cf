"""Explanations on demand: generated in the background when an item is opened, cached, failures retried."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
from review_client import ReviewerClient
from review_rounds import ReviewRound, build
from review_server import free_port
from starlette.testclient import TestClient
from typer.testing import CliRunner

from gradeflow_cli import app
from pipeline.judge import ChatCallError, JudgeSettings, open_judge
from pipeline.review import (
    ROUND_SOURCE_FILE,
    ReviewError,
    Station,
    add_reviewer,
    read_round_source,
    record_round_source,
)
from pipeline.review._app import build_app

sys.path.insert(0, str(Path(__file__).parents[1] / "judge"))
from judge_fakes import FakeChat, answer_of  # noqa: E402


class Model:
    """The fake model's replies to the criterion-mode explanation call; `gate` holds them back until set."""

    def __init__(self, *, fail: bool = False):
        self.fail = fail
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, messages, schema) -> str:
        self.gate.wait(10)
        if self.fail:
            raise ChatCallError("fake model down")
        quote = answer_of(messages).split(":")[0]
        reply = {"evidence": quote, "rationale": "Names the heap and its cost."}
        for name, spec in schema["properties"].items():
            if name not in reply:
                reply[name] = spec["enum"][0] if "enum" in spec else (0 if spec.get("type") != "array" else [])
        return json.dumps(reply)


@pytest.fixture
def plain_round(tmp_path: Path) -> ReviewRound:
    """Scored as `gradeflow score` does by default: no evidence, no rationale; every item in review."""
    return build(tmp_path, submissions=3, questions=2, flag_all=True, explained=False)


def _station(rnd: ReviewRound, model: Model, tmp_path: Path) -> tuple[Station, FakeChat]:
    fake = FakeChat(model)
    settings = JudgeSettings(cache_dir=tmp_path / "judge-cache", screen_meaning=False)
    station = Station(rnd.out, rnd.round_dir, open_judge=lambda: open_judge(settings, backend=fake),
                      judge_sha="fake-judge-sha")
    return station, fake


def _reviewer(station: Station) -> ReviewerClient:
    reviewer = ReviewerClient(TestClient(build_app(station), base_url="http://127.0.0.1"))
    assert reviewer.login(add_reviewer(station.reviewers_path, "alice")).status_code == 200
    return reviewer


def _poll(reviewer: ReviewerClient, url: str, until: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        data = reviewer.client.get(url).json()
        if data["state"] == until or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def test_an_opened_item_shows_generating_then_its_explanation_which_a_restart_keeps(plain_round, tmp_path):
    model = Model()
    model.gate.clear()
    station, fake = _station(plain_round, model, tmp_path)
    reviewer = _reviewer(station)
    page = reviewer.client.get("/next", follow_redirects=True)
    assert page.status_code == 200 and "generating…" in page.text  # the page did not wait on the model
    path = page.url.path
    url = path.replace("/item/", "/explanation/", 1)
    assert reviewer.client.get(url).json()["state"] == "pending"
    model.gate.set()
    data = _poll(reviewer, url, "ready")
    assert data["state"] == "ready", data
    sid, qid = path.split("/")[2:]
    item = station.view.items[(sid, qid)]
    judged = {cid for cid, j in item.judge.items() if j.source == "judge"}
    assert judged and set(data["criteria"]) == judged
    assert all(e["rationale"] == "Names the heap and its cost." for e in data["criteria"].values())
    assert all(e["evidence_verified"] and e["evidence"] in item.answer for e in data["criteria"].values())
    calls = len(fake.calls)
    assert calls == len(judged)  # one generated verdict per judged criterion
    station.close()

    restarted, fake_again = _station(plain_round, Model(fail=True), tmp_path)
    again = ReviewerClient(TestClient(build_app(restarted), base_url="http://127.0.0.1"))
    again.login(add_reviewer(restarted.reviewers_path, "alice"))
    shown = again.client.get(path)
    assert "generating…" not in shown.text and "Names the heap and its cost." in shown.text
    assert fake_again.calls == []  # from the store, not the model
    restarted.close()


def test_a_failed_explanation_is_shown_as_such_and_a_retry_generates_it(plain_round, tmp_path):
    model = Model(fail=True)
    station, _ = _station(plain_round, model, tmp_path)
    reviewer = _reviewer(station)
    page = reviewer.client.get("/next", follow_redirects=True)
    url = page.url.path.replace("/item/", "/explanation/", 1)
    failed = _poll(reviewer, url, "failed")
    assert failed["state"] == "failed" and failed["error"]
    reopened = reviewer.client.get(page.url.path)
    assert reopened.status_code == 200 and "explanation failed" in reopened.text
    assert 'id="explanation-retry"' in reopened.text
    assert reviewer.client.get(url).json()["state"] == "failed"  # not retried behind the reviewer's back
    model.fail = False
    retried = reviewer.client.post(url, data={"csrf": reviewer.csrf()})
    assert retried.json()["state"] == "pending"
    assert _poll(reviewer, url, "ready")["state"] == "ready"
    station.close()


def test_closing_the_station_stops_the_worker_before_the_judge_is_closed(plain_round, tmp_path):
    """Items still queued at shutdown are dropped, never generated against a closed judge."""
    model = Model()
    model.gate.clear()  # the first explanation is being generated when the station stops
    station, fake = _station(plain_round, model, tmp_path)
    explainer = station.explainer
    assert explainer is not None
    items = list(station.view.items.values())
    for item in items:
        explainer.request(item)
    deadline = time.monotonic() + 10
    while not fake.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    closer = threading.Thread(target=station.close)
    closer.start()
    time.sleep(0.2)
    model.gate.set()
    closer.join(timeout=30)
    assert not closer.is_alive()
    calls = len(fake.calls)
    time.sleep(0.3)
    # the item in progress finished (a call per criterion); none of the queued ones began after the close
    assert len(fake.calls) == calls == len(explainer.wanted(items[0]))
    assert explainer._worker is not None and not explainer._worker.is_alive()


def test_blind_mode_asks_for_no_explanation(plain_round, tmp_path):
    station, fake = _station(plain_round, Model(), tmp_path)
    reviewer = _reviewer(station)
    reviewer.client.post("/mode", data={"csrf": reviewer.csrf(), "mode": "blind"})
    page = reviewer.client.get("/next", follow_redirects=True)
    assert page.status_code == 200 and "generating…" not in page.text
    time.sleep(0.2)
    assert fake.calls == []
    station.close()


def test_the_round_source_record_round_trips_and_a_broken_one_says_so(tmp_path):
    assert read_round_source(tmp_path) is None
    record_round_source(tmp_path, tmp_path / "round", "r1")
    source = read_round_source(tmp_path)
    assert source is not None and source.round_dir == (tmp_path / "round").resolve() and source.round_id == "r1"
    (tmp_path / ROUND_SOURCE_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ReviewError, match="--round-dir"):
        read_round_source(tmp_path)


def test_gradeflow_explain_exits_non_zero_when_the_judge_is_unreachable(plain_round, tmp_path, monkeypatch):
    missing = CliRunner().invoke(app, ["explain", str(plain_round.out), "--limit", "1"])
    assert missing.exit_code != 0 and "--round-dir" in missing.output  # no round record, no --round-dir
    record_round_source(plain_round.out, plain_round.round_dir, plain_round.round_id)
    for name, value in {"BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "MODEL": "nobody", "MAX_RETRIES": "0",
                        "TIMEOUT_S": "1", "OUTAGE_BUDGET_S": "1", "CACHE_DIR": str(tmp_path / "cache"),
                        "SCREEN_MEANING": "false"}.items():
        monkeypatch.setenv(f"GRADEFLOW_JUDGE_{name}", value)
    result = CliRunner().invoke(app, ["explain", str(plain_round.out), "--limit", "1"])
    assert result.exit_code == 1, result.output
    assert "[1/1]" in result.output and "0 explained" in result.output


def test_review_without_round_dir_needs_the_round_record(plain_round):
    result = CliRunner().invoke(app, ["review", str(plain_round.out), "--port", str(free_port())])
    assert result.exit_code != 0 and ".gradeflow-round.json" in result.output and "--round-dir" in result.output
