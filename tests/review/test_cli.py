"""`gradeflow review` on the command line: the default command, add-reviewer, export, clear errors."""

from __future__ import annotations

import subprocess
import sys
import uuid

from review_rounds import ReviewRound
from typer.testing import CliRunner

from gradeflow_cli import app
from pipeline.review import NewGrade, ReviewStore, RoundView, hash_token, load_reviewers
from pipeline.store import query


def test_add_reviewer_prints_a_login_link_and_stores_only_the_hash(small_round: ReviewRound) -> None:
    result = CliRunner().invoke(app, ["review", "add-reviewer", "alice", "--out", str(small_round.out),
                                      "--url", "http://127.0.0.1:9999/"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("http://127.0.0.1:9999/login?token=")
    token = link.split("token=")[1]
    assert load_reviewers(small_round.out / "reviewers.yaml")["alice"].token_sha256 == hash_token(token)
    assert token not in (small_round.out / "reviewers.yaml").read_text()


def test_a_bad_name_or_round_is_an_error_without_a_traceback(small_round: ReviewRound, tmp_path) -> None:
    bad = CliRunner().invoke(app, ["review", "add-reviewer", "a b", "--out", str(small_round.out)])
    assert bad.exit_code == 1 and "reviewer name 'a b'" in bad.output
    missing = CliRunner().invoke(app, ["review", str(small_round.out), "--round-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "round.yaml" in missing.output and "Traceback" not in missing.output


def test_export_reapplies_the_reviews_after_rescoring(small_round: ReviewRound) -> None:
    view = RoundView(small_round.out, small_round.round_dir)
    item = view.items[("s00001", "1.1")]
    ReviewStore(small_round.out / "reviews.sqlite").add_form(
        form_id=uuid.uuid4().hex, round_id=view.round_id, item=item.key, reviewer="alice",
        grades=[NewGrade("q1-idea", 0.0), NewGrade("q1-cost", 1.0)], comment="", mode="review",
        answer_sha=item.answer_sha, question_sha=view.question_shas["1.1"], expected_version=0)
    result = CliRunner().invoke(app, ["review", "export", str(small_round.out), "--round-dir",
                                      str(small_round.round_dir)])
    assert result.exit_code == 0, result.output
    assert "1 grades (2 criterion events) exported, 1 items decided by reviewers" in result.output
    _, rows = query(small_round.out, "SELECT final_points, decided_by FROM item_scores"
                                     " WHERE submission_id = 's00001' AND question_id = '1.1'")
    assert rows == [(1.0, "human:alice")]


def test_the_scoring_flow_reapplies_the_reviews_after_writing_the_tables(small_round: ReviewRound) -> None:
    """A re-scored round: the flow's last task rewrites the final points from the review log."""
    from flows.score_round import reapply_reviews

    view = RoundView(small_round.out, small_round.round_dir)
    item = view.items[("s00001", "1.1")]
    before = query(small_round.out, "SELECT final_points, decided_by FROM item_scores"
                                    " WHERE submission_id = 's00001' AND question_id = '1.1'")[1]
    ReviewStore(small_round.out / "reviews.sqlite").add_form(
        form_id=uuid.uuid4().hex, round_id=view.round_id, item=item.key, reviewer="bob",
        grades=[NewGrade("q1-idea", 0.0), NewGrade("q1-cost", 1.0)], comment="", mode="review",
        answer_sha=item.answer_sha, question_sha=view.question_shas["1.1"], expected_version=0)
    reapply_reviews.fn(str(small_round.out), str(small_round.round_dir), view.round_id)
    _, rows = query(small_round.out, "SELECT final_points, decided_by FROM item_scores"
                                     " WHERE submission_id = 's00001' AND question_id = '1.1'")
    assert rows == [(1.0, "human:bob")] and rows != before


def test_export_while_a_rescore_holds_the_round_exits_busy(small_round: ReviewRound, monkeypatch) -> None:
    import pipeline.review._export as export_module

    monkeypatch.setattr(export_module, "EXPORT_WAIT_S", 0.5)
    view = RoundView(small_round.out, small_round.round_dir)
    holder = subprocess.Popen(  # a re-score: another process holds the round lock
        [sys.executable, "-c", "import sys, time; from pipeline.rounds import round_lock\n"
         "with round_lock(sys.argv[1], sys.argv[2]):\n    print('held', flush=True); time.sleep(30)",
         str(small_round.out), view.round_id],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = CliRunner().invoke(app, ["review", "export", str(small_round.out), "--round-dir",
                                          str(small_round.round_dir)])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    again = CliRunner().invoke(app, ["review", "export", str(small_round.out), "--round-dir",
                                     str(small_round.round_dir)])
    assert again.exit_code == 0, again.output  # the lock is free again: the export goes through
