"""The operator's calibration loop on the demo round, in headless Chromium against the real commands.

Score the round (`gradeflow score`, the stub OpenAI-compatible judge standing in for the model), serve it
(`gradeflow review --per-question K`), grade the calibration queue of two questions in the browser (blind:
the judge's points never shown), export, `gradeflow calibrate` on the round's reviews, score again with
`--calibration`: the ungraded answers of those questions get calibrated points, the graded ones keep the
reviewer's grade as their final points.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from review_server import StationProcess
from test_e2e_browser import CHROMEDRIVER, CHROMIUM, _keys, _wait_for, browser  # noqa: F401  (the fixture)

from pipeline.review import add_reviewer
from pipeline.store import read_table

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from round_env import round_env  # noqa: E402
from stub_judge import StubJudgeServer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "eval_sets" / "ai-engineer-mid" / "rounds" / "demo"
GRADEFLOW = Path(sys.executable).parent / "gradeflow"
K = 3

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"),
    pytest.mark.skipif(CHROMEDRIVER is None,
                       reason="chromedriver is not installed (apt-get install -y chromium-driver)"),
]


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([str(GRADEFLOW), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _grade_calibration_items(driver, url: str, question: str) -> dict[tuple[str, str], str]:
    """Follow 'next' on one question while it serves calibration items; zero on the first, full on the others."""
    from selenium.webdriver.common.keys import Keys

    graded: dict[tuple[str, str], str] = {}
    driver.get(f"{url}/next?question={question}")
    while True:
        _wait_for(driver, lambda d: "/item/" in d.current_url or 'id="queue"' in d.page_source, "an item page")
        notes = driver.find_elements("id", "blind-note")
        if "/item/" not in driver.current_url or not notes or "Calibration item" not in notes[0].text:
            return graded
        assert not driver.find_elements("id", "judge-points")  # blind although the reviewer is in review mode
        sid, qid = driver.current_url.split("?")[0].split("/item/")[1].split("/")
        assert qid == question and (sid, qid) not in graded
        how = "zero" if not graded else "full"
        before = driver.current_url
        _keys(driver, "z" if how == "zero" else "f", Keys.ENTER)
        _wait_for(driver, lambda d, b=before: d.current_url != b, "the next page after saving")
        graded[(sid, qid)] = how


def test_grade_the_calibration_queue_in_the_browser_calibrate_and_rescore(browser, tmp_path,  # noqa: F811
                                                                          monkeypatch):
    out = tmp_path / "out"
    with StubJudgeServer() as stub:
        env = round_env(
            tmp_path, GRADEFLOW_JUDGE_BASE_URL=stub.base_url, GRADEFLOW_JUDGE_MODEL="stub",
            GRADEFLOW_JUDGE_CACHE_DIR=str(tmp_path / "judge"), GRADEFLOW_CACHE_DIR=str(tmp_path / "cache"),
            COLUMNS="300",
        )  # fmt: skip
        _run(["score", str(DEMO), "--out", str(out), "--judge", "openai"], env)
        station = StationProcess(out, DEMO, double=0.0, per_question=K)
        monkeypatch.setenv("GRADEFLOW_CACHE_DIR", env["GRADEFLOW_CACHE_DIR"])  # the station's answer vectors
        station.start()
        try:
            token = add_reviewer(out / "reviewers.yaml", "alice")
            from selenium.webdriver.common.keys import Keys

            browser.get(f"{station.url}/login?token={token}")
            _keys(browser, Keys.ENTER)
            _wait_for(browser, lambda d: "Calibration queue" in d.page_source, "the calibration queue after login")
            counts = {e.get_attribute("data-question"): e.text
                      for e in browser.find_elements("css selector", ".calibration-question")}
            questions = [q for q, text in counts.items() if text.endswith(f"0/{K}")][:2]
            assert len(questions) == 2, counts
            graded: dict[tuple[str, str], str] = {}
            for question in questions:
                mine = _grade_calibration_items(browser, station.url, question)
                assert mine, question
                graded |= mine
            browser.get(station.url + "/")
            for question in questions:
                cell = browser.find_element("css selector", f'.calibration-question[data-question="{question}"]')
                done = sum(1 for _, q in graded if q == question)
                assert cell.text == f"{question}: {done}/{K}"
        finally:
            station.stop()
        _run(["review", "export", str(out), "--round-dir", str(DEMO)], env)
        calibrated = _run(["calibrate", str(out), "--bootstrap", "20", "--folds", "2"], env)
        assert f"{len(graded)} item grades from the round's reviews" in calibrated, calibrated
        _run(["score", str(DEMO), "--out", str(out), "--judge", "openai", "--calibration",
              str(out / "calibration.json")], env)  # fmt: skip
    items = {(r["submission_id"], r["question_id"]): r for r in read_table(out, "item_scores").to_pylist()}
    for key, how in graded.items():
        row = items[key]
        assert row["decided_by"] == "human:alice", key
        assert row["final_points"] == (0.0 if how == "zero" else row["max_points"]), key
    rest = [r for k, r in items.items() if k[1] in questions and k not in graded and r["raw_points"] is not None]
    assert rest, "ungraded answers of the graded questions"
    assert all(r["calibrated_points"] is not None for r in rest)
    assert all(r["decided_by"] != "human:alice" for r in rest)
