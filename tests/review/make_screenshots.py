"""Screenshots of the station on the seed exam's panel round for docs/REVIEW.md (run by hand, not a test).

The panel round is scored with the tests' fake judge and code runner (tests/review/review_rounds.py), the
station runs as `gradeflow review`, and headless Chromium takes the queue, an item with code runs and
highlighted evidence, and the same item in blind mode.

    .venv/bin/python tests/review/make_screenshots.py docs/review

Chinese text needs a CJK font in the browser (apt-get install -y fonts-wqy-zenhei), else it shows boxes.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from review_rounds import score  # noqa: E402
from review_server import StationProcess  # noqa: E402

from pipeline.review import RoundView, add_reviewer  # noqa: E402

PANEL = Path(__file__).parents[2] / "eval_sets" / "ai-engineer-mid" / "rounds" / "panel"


def main(target: Path) -> None:
    """Score the panel round, serve it, and save three screenshots into `target`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys

    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        score(PANEL, out)
        view = RoundView(out, PANEL)
        item = next(i for i in view.in_mode("review") if i.runs and any(j.evidence for j in i.judge.values()))
        link = f"http://127.0.0.1:0/login?token={add_reviewer(out / 'reviewers.yaml', 'alice')}"
        station = StationProcess(out, PANEL)
        station.start()
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1100"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            driver.get(link.replace("http://127.0.0.1:0", station.url))
            driver.find_element("id", "sign-in").send_keys(Keys.ENTER)
            driver.get(f"{station.url}/")
            driver.save_screenshot(str(target / "review-queue.png"))
            driver.get(f"{station.url}/item/{item.submission_id}/{item.question_id}")
            driver.save_screenshot(str(target / "review-item.png"))
            driver.find_element("id", "toggle-mode").click()
            driver.get(f"{station.url}/item/{item.submission_id}/{item.question_id}")
            driver.save_screenshot(str(target / "review-item-blind.png"))
        finally:
            driver.quit()
            station.stop()
    print(f"{target}: review-queue.png, review-item.png, review-item-blind.png ({item.submission_id} / "
          f"{item.question_id})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
