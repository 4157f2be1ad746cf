"""`gradeflow judge` on a fake judge: output, JSON, question filter, and errors that name the problem."""

from __future__ import annotations

import contextlib
import json

import pytest
import yaml
from judge_fakes import FakeChat, peaked, verdicts
from typer.testing import CliRunner

from gradeflow_cli import app
from gradeflow_cli import judge as judge_command
from pipeline.judge import Judge, JudgeCache, LocalModelError

RUBRIC = {
    "id": "mini", "title": "Mini exam", "language": "en", "total_points": 7,
    "sections": [{"id": "s1", "title": "Part one", "points": 7, "questions": [
        {"id": "1.1", "title": "Linked lists", "prompt": "Why use a linked list?", "language": "en",
         "points": 5,
         "criteria": [{"id": "why", "title": "Reason", "points": 5, "step": 1,
                       "earns_points_for": "insertion without shifting elements"}]},
        {"id": "1.2", "title": "Stacks", "prompt": "Implement a stack.", "language": "en", "points": 2,
         "criteria": [{"id": "how", "title": "How", "points": 2, "step": 1,
                       "earns_points_for": "top index"}]},
    ]}],
}  # fmt: skip
SUBMISSION = "## 1.1\nInsertions need no shifting of elements.\n\n## 1.2\nKeep a top index.\n"


@pytest.fixture
def files(tmp_path):
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(yaml.safe_dump(RUBRIC))
    submission = tmp_path / "cand-7.md"
    submission.write_text(SUBMISSION)
    return rubric, submission


@pytest.fixture
def fake_judge(monkeypatch, tmp_path):
    def respond(messages, schema):
        if "verdict" in schema["properties"]:  # criterion mode
            user = messages[-1]["content"]
            evidence = "Insertions need no shifting" if "`why`" in user else "top index"
            return json.dumps(
                {"evidence": evidence, "rationale": "ok", "verdict": "yes" if "`why`" in user else "partial"}
            )
        if "why" in schema["properties"]:
            return verdicts(
                {"why": {"evidence": "Insertions need no shifting", "rationale": "Right.", "points": 5}}
            )
        return verdicts({"how": {"evidence": "top index", "rationale": "Partly.", "points": 1}})

    fake = FakeChat(respond, distribute=peaked("5", 0.98))
    monkeypatch.setenv("GRADEFLOW_JUDGE_MODE", "item")

    @contextlib.contextmanager
    def fake_open(settings):
        yield Judge(fake, settings, cache=JudgeCache(tmp_path / "cache"))

    monkeypatch.setattr(judge_command, "open_judge", fake_open)
    return fake


def test_prints_points_evidence_and_rationale(files, fake_judge):
    result = CliRunner().invoke(app, ["judge", str(files[0]), str(files[1])])
    assert result.exit_code == 0, result.output
    assert (
        "5/5" in result.output and "Insertions need no shifting" in result.output and "1/2" in result.output
    )
    assert "2 item(s) judged; 2 model call(s), 0 cache hit(s)" in result.output


def test_json_and_question_filter_and_a_second_run_makes_no_calls(files, fake_judge):
    runner = CliRunner()
    first = runner.invoke(app, ["judge", str(files[0]), str(files[1]), "--question", "1.1", "--json"])
    assert first.exit_code == 0, first.output
    payload = json.loads(first.stdout)
    assert [(j["submission_id"], j["question_id"]) for j in payload] == [("cand-7", "1.1")]
    assert payload[0]["awards"]["why"]["points"] == 5 and payload[0]["calls"][0]["cache_hit"] is False
    second = runner.invoke(app, ["judge", str(files[0]), str(files[1]), "--question", "1.1", "--json"])
    assert json.loads(second.stdout)[0]["calls"][0]["cache_hit"] is True
    assert "0 model call(s), 1 cache hit(s)" in second.stderr
    assert len(fake_judge.calls) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--question", "9.9"], "no question '9.9'"),
        (["--samples", "0"], "--samples"),
    ],
)
def test_bad_options_exit_1_or_2_with_the_reason(files, fake_judge, args, message):
    result = CliRunner().invoke(app, ["judge", str(files[0]), str(files[1]), *args])
    assert result.exit_code in (1, 2) and message in result.output
    assert fake_judge.calls == []


def test_unreadable_submission_and_server_errors_are_reported(files, fake_judge, monkeypatch, tmp_path):
    empty = tmp_path / "empty.md"
    empty.write_text("")
    result = CliRunner().invoke(app, ["judge", str(files[0]), str(empty)])
    assert result.exit_code == 1 and "file is empty" in result.output

    @contextlib.contextmanager
    def broken(settings):
        raise LocalModelError("model part 3 of 22 is not installed")
        yield

    monkeypatch.setattr(judge_command, "open_judge", broken)
    result = CliRunner().invoke(app, ["judge", str(files[0]), str(files[1])])
    assert result.exit_code == 1 and "part 3 of 22" in result.output


def test_distribution_mode_prints_expected_points_and_explains_on_request(files, fake_judge, monkeypatch):
    monkeypatch.setenv("GRADEFLOW_JUDGE_MODE", "distribution")
    result = CliRunner().invoke(app, ["judge", str(files[0]), str(files[1]), "--question", "1.1"])
    assert result.exit_code == 0, result.output
    assert "5/5 (expected 4.94)" in result.output and "Insertions need no shifting" not in result.output
    assert {tuple(c.get("labels", ())) for c in fake_judge.calls} == {("0", "1", "2", "3", "4", "5")}
    explained = CliRunner().invoke(app, ["judge", str(files[0]), str(files[1]), "--question", "1.1", "--explain"])
    assert explained.exit_code == 0, explained.output
    assert "5/5 (expected 4.94)" in explained.output and "Insertions need no shifting" in explained.output


def test_an_endpoint_without_logprobs_is_named_in_the_summary(files, fake_judge, monkeypatch):
    monkeypatch.setenv("GRADEFLOW_JUDGE_MODE", "distribution")
    fake_judge.distribute = None
    result = CliRunner().invoke(app, ["judge", str(files[0]), str(files[1]), "--question", "1.1"])
    assert result.exit_code == 0, result.output
    assert "generated verdicts instead of score distributions" in result.output and "5/5" in result.output


def test_json_prints_each_reason_as_the_sentence_a_person_reads(files, fake_judge):
    """The reasons travel typed inside; `--json` keeps printing them as text, as its readers expect."""
    fake_judge.respond = lambda messages, schema: verdicts(
        {cid: {"evidence": "words the answer never wrote", "rationale": "?", "points": 1}
         for cid in schema["properties"]}
    )  # fmt: skip
    result = CliRunner().invoke(app, ["judge", str(files[0]), str(files[1]), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    reasons = [r for j in payload for r in j["review_reasons"]]
    assert reasons and all(isinstance(r, str) for r in reasons)
    assert any("evidence" in r for r in reasons)
    assert all(isinstance(a["reason"], str) for j in payload for a in j["awards"].values())
