"""The issue's walk-through on the demo round itself: score it, grade and override in the station, export,
see the new final scores, and fit a calibration on the reviewers' grades, without writing a file by hand.

The judge and the executor are the review tests' fakes (the station's job starts after scoring; the real
judge on this round is `make demo`'s).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
from review_client import ReviewerClient
from review_rounds import score
from starlette.testclient import TestClient
from typer.testing import CliRunner

from gradeflow_cli import app
from pipeline.review import Station, add_reviewer
from pipeline.review._app import build_app
from pipeline.store import read_table

DEMO = Path(__file__).resolve().parents[2] / "eval_sets" / "ai-engineer-mid" / "rounds" / "demo"


def test_an_operator_reviews_the_demo_round_and_calibrates_on_the_grades(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert score(DEMO, out) == len(list((DEMO / "submissions").iterdir()))
    station = Station(out, DEMO)
    alice = ReviewerClient(TestClient(build_app(station), base_url="http://127.0.0.1"))
    assert alice.login(add_reviewer(station.reviewers_path, "alice")).status_code == 200
    alice.client.post("/mode", data={"csrf": alice.csrf(), "mode": "blind"})  # every judged item, judge hidden
    given: dict[tuple[str, str], float] = {}
    while (form := alice.open_next()) is not None:
        zero = len(given) % 3 == 0  # an override to nothing on every third item, full marks on the others
        points = {cid: values[0] if zero else values[-1] for cid, values in form.allowed.items()}
        assert alice.submit(form, points).status_code == 303
        given[form.item] = 0.0 if zero else station.view.items[form.item].max_points  # the rules cap the sum
    judged = station.view.in_mode("blind")
    assert len(given) == len(judged) > 30
    runner = CliRunner()
    exported = runner.invoke(app, ["review", "export", str(out), "--round-dir", str(DEMO)])
    assert exported.exit_code == 0 and f"{len(given)} grades" in exported.output, exported.output
    items = read_table(out, "item_scores").to_pylist()
    by_key = {(r["submission_id"], r["question_id"]): r for r in items}
    for key, points in given.items():
        row = by_key[key]
        assert row["decided_by"] == "human:alice", key
        assert row["final_points"] == points, key
    overridden = [key for key, points in given.items() if points == 0.0 and by_key[key]["raw_points"]]
    assert overridden, "some override changed the judge's points"
    totals = read_table(out, "submissions")
    decided = totals.filter(pc.equal(totals.column("decided_by"), "human:alice"))
    assert decided.num_rows >= 1
    calibrated = runner.invoke(app, ["calibrate", str(out), "--bootstrap", "20", "--folds", "3"])
    assert calibrated.exit_code == 0, calibrated.output
    assert f"{len(given)} item grades from the round's reviews" in calibrated.output
    assert "human_reviews" in json.dumps(json.loads((out / "calibration.json").read_text()))
