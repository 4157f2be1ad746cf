"""An explanation generated on demand, seen in headless Chromium: "generating…" at once, then the explanation.

The item page shows the judge's evidence and rationale when they are ready, without a reload.

The station runs in process (uvicorn in a thread) so that its judge can be the tests' fake chat backend,
held back until the page has been seen waiting; the browser, HTTP, the worker thread and the store are real.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from review_rounds import build
from review_server import free_port
from test_e2e_browser import CHROMEDRIVER, CHROMIUM, _keys, _wait_for, browser  # noqa: F401  (the fixture)
from test_explain import Model

from pipeline.judge import JudgeSettings, open_judge
from pipeline.review import Station, add_reviewer
from pipeline.review._app import build_app

sys.path.insert(0, str(Path(__file__).parents[1] / "judge"))
from judge_fakes import FakeChat  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"),
    pytest.mark.skipif(CHROMEDRIVER is None,
                       reason="chromedriver is not installed (apt-get install -y chromium-driver)"),
]


def test_the_item_page_shows_generating_then_the_explanation_without_a_reload(browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.keys import Keys

    rnd = build(tmp_path, submissions=2, questions=2, flag_all=True, explained=False)
    model = Model()
    model.gate.clear()
    fake = FakeChat(model)
    settings = JudgeSettings(cache_dir=tmp_path / "judge-cache", screen_meaning=False)
    station = Station(rnd.out, rnd.round_dir, open_judge=lambda: open_judge(settings, backend=fake),
                      judge_sha="fake-judge-sha")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(station), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the station did not start"
            time.sleep(0.05)
        token = add_reviewer(station.reviewers_path, "alice")
        browser.get(f"http://127.0.0.1:{port}/login?token={token}")
        _keys(browser, Keys.ENTER)
        _wait_for(browser, lambda d: "Review queue" in d.page_source, "the queue after login")
        _keys(browser, Keys.ENTER)  # start grading
        _wait_for(browser, lambda d: "/item/" in d.current_url, "an item page")
        status = browser.find_element("id", "explanation-status")
        assert "generating…" in status.text
        boxes = browser.find_elements("css selector", ".explanation[data-criterion]")
        assert boxes and all("generating…" in b.text for b in boxes)
        url = browser.current_url
        browser.execute_script("window.notReloaded = true")
        model.gate.set()  # the model answers now
        _wait_for(browser, lambda d: all("Names the heap and its cost." in b.text for b in
                                         d.find_elements("css selector", ".explanation[data-criterion]")),
                  "the explanation in place of 'generating…'")
        assert browser.current_url == url and browser.execute_script("return window.notReloaded") is True
        assert browser.find_element("id", "explanation-status").text == ""
        quotes = [q.text for q in browser.find_elements("css selector", ".explanation .quote")]
        answer = browser.find_element("id", "answer").text
        assert quotes and all(q and q in answer for q in quotes)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        station.close()
