"""A reviewer in headless Chromium (Debian's chromium + chromedriver, driven by Selenium) against a real station.

Log in with the printed link, grade three items with the keyboard (accept the judge, full marks, an
override to zero), double-grade an item as a second reviewer, watch the queue shrink and the agreement
appear, and find the grades with `gradeflow query`. Screenshots of both pages are checked for content
(docs/REVIEW.md's come from make_screenshots.py, on the panel round).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from review_rounds import build
from review_server import GRADEFLOW, StationProcess

from pipeline.review import ReviewStore, RoundView

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"),
    pytest.mark.skipif(CHROMEDRIVER is None,
                       reason="chromedriver is not installed (apt-get install -y chromium-driver)"),
]


def _cli(*args: str) -> str:
    done = subprocess.run([*GRADEFLOW, *args], capture_output=True, text=True, timeout=120,
                          env=os.environ | {"COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", "--disable-background-networking", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _keys(driver, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(driver)
    for key in keys:
        chain.send_keys(key)
    chain.perform()


def _wait_for(driver, predicate, what: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20, poll_frequency=0.1).until(lambda d: predicate(d), message=what)


def _item_of(driver) -> tuple[str, str]:
    sid, qid = driver.current_url.split("?")[0].split("/item/")[1].split("/")
    return sid, qid


def _left(driver) -> int:
    return int(driver.find_element("id", "left").text)


def _screenshot(driver, path: Path) -> None:
    driver.save_screenshot(str(path))
    pixels = Image.open(path).convert("L")
    assert pixels.getextrema()[1] - pixels.getextrema()[0] > 100, f"{path.name} is blank"


def test_a_reviewer_grades_overrides_and_double_grades_in_the_browser(browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    rnd = build(tmp_path, submissions=12, questions=4, flag_all=True)
    view = RoundView(rnd.out, rnd.round_dir, double_share=0.25)
    station = StationProcess(rnd.out, rnd.round_dir, double=0.25)
    alice_link = _cli("review", "add-reviewer", "alice", "--out", str(rnd.out), "--url", station.url).strip()
    bob_link = _cli("review", "add-reviewer", "bob", "--out", str(rnd.out), "--url", station.url).strip()
    assert alice_link.startswith(f"{station.url}/login?token=")
    station.start()
    try:
        browser.get(alice_link)
        _keys(browser, Keys.ENTER)  # the sign-in button has the focus
        _wait_for(browser, lambda d: "Review queue" in d.page_source, "the queue after login")
        left = _left(browser)
        assert left == len(view.items) == 48
        _screenshot(browser, tmp_path / "review-queue.png")

        _keys(browser, Keys.ENTER)  # start grading
        graded: list[tuple[str, str]] = []
        for keys in ([Keys.ENTER], ["f", Keys.ENTER], ["z", Keys.ENTER]):  # accept, full marks, override to 0
            _wait_for(browser, lambda d: "/item/" in d.current_url, "an item page")
            item = _item_of(browser)
            if not graded:
                _screenshot(browser, tmp_path / "review-item.png")
            _keys(browser, *keys)
            _wait_for(browser, lambda d, item=item: "/item/" in d.current_url and _item_of(d) != item,
                      "the next item")
            assert "Saved" in browser.find_element("id", "saved").text
            graded.append(item)
        browser.get(f"{station.url}/")
        singles = sum(1 for item in graded if not view.items[item].double)
        assert _left(browser) == left - singles  # the queue shrank by every item that needed one grade

        double = next(i for i in view.in_mode("review") if i.double and i.key not in graded)
        browser.get(f"{station.url}/item/{double.submission_id}/{double.question_id}")
        _keys(browser, Keys.ENTER)
        _wait_for(browser, lambda d: _item_of(d) != double.key if "/item/" in d.current_url else True, "saved")
        browser.delete_all_cookies()
        browser.get(bob_link)
        _keys(browser, Keys.ENTER)
        _wait_for(browser, lambda d: "Review queue" in d.page_source, "bob's queue")
        browser.get(f"{station.url}/item/{double.submission_id}/{double.question_id}")
        assert "Double-graded item" in browser.page_source and "assigned to" not in browser.page_source
        _keys(browser, "f", Keys.ENTER)
        _wait_for(browser, lambda d: _item_of(d) != double.key if "/item/" in d.current_url else True, "saved")
        browser.get(f"{station.url}/")
        assert "1 item graded by two reviewers" in browser.find_element("id", "agreement").text
        assert _left(browser) == left - singles - 1

        station.wait_exported(max(e.seq for e in ReviewStore(rnd.out / "reviews.sqlite").events(rnd.round_id)))
    finally:
        station.stop()
    rows = json.loads(_cli(
        "query", "--data", str(rnd.out), "--json", "--",
        "SELECT i.submission_id, i.question_id, i.raw_points, i.final_points, i.decided_by,"
        " list(DISTINCT h.reviewer ORDER BY h.reviewer) AS reviewers"
        " FROM item_scores i JOIN human_reviews h USING (round_id, submission_id, question_id)"
        " WHERE h.current GROUP BY ALL ORDER BY i.submission_id, i.question_id",
    ))
    by_item = {(r["submission_id"], r["question_id"]): r for r in rows}
    assert set(by_item) == {*graded, double.key}
    accepted, full, overridden = (by_item[item] for item in graded)
    assert accepted["final_points"] == accepted["raw_points"] and accepted["decided_by"] == "human:alice"
    assert full["final_points"] == view.items[graded[1]].max_points
    assert overridden["final_points"] == 0 < overridden["raw_points"]
    assert by_item[double.key]["reviewers"] == ["alice", "bob"]
    assert by_item[double.key]["decided_by"] == "human:alice+bob"
