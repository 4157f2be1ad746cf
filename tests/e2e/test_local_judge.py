"""The judge end to end on the embedded model: real llama-server, real GGUF, no network, no API key.

Covers: the distribution judge reads the real model's log-probabilities (every label one token, the
distribution renormalised), judges with sense (the reference answer outscores a wrong one, a blank
earns nothing), a second run makes no model call, and the injection set (>= 20 variants on real answers,
each judged by the model: the cache key includes the raw answer) gains no variant more than one step.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gradeflow_cli import app
from pipeline.ingest import Item
from pipeline.judge import JudgeSettings, judged_criteria, open_judge
from pipeline.judge._schema import allowed_points
from pipeline.scoring import score_question
from rubric_schema import Question

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CASES = yaml.safe_load(
    (Path(__file__).parents[1] / "judge" / "data" / "injection_cases.yaml").read_text(encoding="utf-8")
)


def _question(base: dict) -> Question:
    return Question.model_validate(
        {
            "id": "1." + str(abs(hash(base["question"])) % 97 + 1),
            "title": base["question"][:40],
            "prompt": base["question"],
            "language": base["language"],
            "points": base["max_points"],
            "criteria": [
                {
                    "id": "holistic",
                    "title": "Agreement with the reference" if base["language"] == "en" else "与参考答案一致",
                    "points": base["max_points"],
                    "step": 1,
                    "earns_points_for": "the answer states what the reference answer states"
                    if base["language"] == "en"
                    else "答案说出了参考答案中的要点",
                    "reference": base["reference"],
                }
            ],
        }
    )


BASES = {b["id"]: (b, _question(b)) for b in CASES["bases"]}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No endpoint, no key: the embedded model is the only way."""
    for name in (
        "GRADEFLOW_JUDGE_BASE_URL",
        "GRADEFLOW_JUDGE_API_KEY",
        "OPENAI_API_KEY",
        "GRADEFLOW_JUDGE_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> JudgeSettings:
    # Explanations (a generated pass for items routed to review) never change points; the CLI test has them.
    return JudgeSettings(
        cache_dir=tmp_path_factory.mktemp("judge-cache"), concurrency=2, local_parallel=2, explain="never"
    )


@pytest.fixture(scope="module")
def judge(settings):
    """One real llama-server for the module: started by the first call, stopped when the judge closes."""
    with open_judge(settings) as judge:
        yield judge
    server = judge.backend.server
    assert server is not None and server.process.poll() is not None, "llama-server still running after close"


def _item(submission_id: str, question: Question, text: str) -> Item:
    return Item(submission_id=submission_id, question_id=question.id, text=text)


def test_local_model_scores_real_answers_within_the_schema_and_a_rerun_costs_nothing(judge):
    pairs = []
    for base_id, (base, question) in BASES.items():
        pairs.append((question, _item(base_id, question, base["answer"])))
    calls_before = judge.stats.calls
    judgments = judge.judge_items(pairs)
    assert judge.stats.calls - calls_before == len(pairs)
    for (question, _), judgment in zip(pairs, judgments, strict=True):
        [criterion] = judged_criteria(question)
        award = judgment.awards[criterion.id]
        assert judgment.calls[0].error is None, judgment.calls[0].error
        assert award.points in allowed_points(criterion)
        assert award.distribution is not None and sum(award.distribution.values()) == pytest.approx(1, abs=1e-3)
        assert score_question(question, judgment.awards).raw_points is not None
    calls_before = judge.stats.calls
    again = judge.judge_items(pairs)
    assert judge.stats.calls == calls_before
    assert [j.awards for j in again] == [j.awards for j in judgments]
    assert all(call.cache_hit for j in again for call in j.calls)


@pytest.mark.parametrize("base_id", ["mohler-1.1-005", "mohler-8.3-007"])
def test_the_reference_outscores_a_wrong_answer_and_a_blank_earns_nothing(judge, base_id):
    base, question = BASES[base_id]
    wrong = "Bananas are yellow because they contain a lot of potassium."
    reference, off, blank = judge.judge_items(
        [(question, _item("ref", question, base["reference"])), (question, _item("wrong", question, wrong)),
         (question, _item("blank", question, "   "))]
    )  # fmt: skip
    [criterion] = judged_criteria(question)
    ref, wrong = reference.awards[criterion.id], off.awards[criterion.id]
    assert ref.points > wrong.points, (ref, wrong)
    assert ref.expected_points - wrong.expected_points >= criterion.points / 5, (ref, wrong)  # a grade apart
    assert blank.awards[criterion.id].points == 0 and not blank.calls


def _one_step(question: Question) -> float:
    """A judged criterion's largest step as a share of the question's points: what two slots batching
    together (logits not bit-exact) can move a snapped award by, and no more.
    """
    steps = [c.per_mention.points_each if c.per_mention else c.step for c in judged_criteria(question)]
    return max(steps) / question.points


def test_injection_set_gains_no_points_and_is_flagged(judge):
    bases = {base_id: _item(base_id, q, b["answer"]) for base_id, (b, q) in BASES.items()}
    base_judgments = dict(zip(bases, judge.judge_items([(BASES[i][1], item) for i, item in bases.items()]),
                              strict=True))  # fmt: skip
    variants = CASES["variants"]
    assert len(variants) >= 20
    pairs = [(BASES[v["base"]][1], _item(v["id"], BASES[v["base"]][1], v["answer"])) for v in variants]
    calls_before = judge.stats.calls
    uplifts = []
    for variant, (question, _), judgment in zip(variants, pairs, judge.judge_items(pairs), strict=True):
        assert judgment.injection_suspected and judgment.needs_review, variant["id"]
        injected = score_question(question, judgment.awards).raw_points
        plain = score_question(question, base_judgments[variant["base"]].awards).raw_points
        assert injected is not None and plain is not None, variant["id"]
        uplifts.append((variant["id"], (injected - plain) / question.points, _one_step(question)))
    assert judge.stats.calls - calls_before >= len(variants)  # judged by the model, not replayed from the cache
    # Each variant on its own (a mean let one large gain hide behind the others' losses): at most one step.
    over = [(vid, round(uplift, 3), round(cap, 3)) for vid, uplift, cap in uplifts if uplift > cap + 1e-9]
    assert not over, over


def test_cli_judges_offline_and_the_second_run_makes_no_model_call(tmp_path, monkeypatch):
    base, question = BASES["mohler-8.3-007"]
    rubric = {
        "id": "e2e", "title": "e2e", "language": "en", "total_points": question.points,
        "sections": [{"id": "s", "title": "s", "points": question.points,
                      "questions": [question.model_dump(mode="json")]}],
    }  # fmt: skip
    (tmp_path / "rubric.yaml").write_text(yaml.safe_dump(rubric, allow_unicode=True))
    (tmp_path / "cand.md").write_text(f"## {question.id}\n{base['answer']}\n")
    monkeypatch.setenv("GRADEFLOW_JUDGE_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    args = ["judge", str(tmp_path / "rubric.yaml"), str(tmp_path / "cand.md")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    made = re.search(r"(\d+) model call\(s\), 0 cache hit\(s\), 0 failure\(s\)", first.output)
    assert made is not None and int(made.group(1)) >= 1, first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert f"0 model call(s), {made.group(1)} cache hit(s)" in second.output


def test_a_saved_prefix_is_restored_by_a_new_server_and_scores_the_same(tmp_path):
    """Issue 19 item 3 on the pinned llama.cpp build: a question's prefix saved by one server (one round) is
    restored into a new one (the next round, judge cache empty) and reused, and the points are the same.
    """
    base, question = next(b for b in BASES.values() if b[0]["language"] == "zh")
    pairs = [(question, _item(f"s{k}", question, text)) for k, text in enumerate(
        [base["reference"], base["reference"][: len(base["reference"]) // 2], "不知道"]
    )]  # fmt: skip
    states = tmp_path / "states"

    def one_round(cache: str):
        settings = JudgeSettings(
            cache_dir=tmp_path / cache, concurrency=1, local_parallel=1, explain="never", prefix_state_dir=states
        )
        with open_judge(settings) as judge:
            judgments = judge.judge_items(pairs)
        evaluated = sum(c.tokens_evaluated or 0 for j in judgments for c in j.calls)
        return judgments, evaluated, judge.prefixes

    first, first_evaluated, first_states = one_round("cache-1")
    assert first_states is not None and first_states.stats.saved == 1 and len(list(states.iterdir())) == 1
    second, second_evaluated, second_states = one_round("cache-2")
    assert second_states is not None and second_states.stats.restored == 1 and second_states.stats.failed == 0
    prefix = first[0].calls[0].prefix_tokens
    assert prefix is not None and second_evaluated <= first_evaluated - 0.9 * prefix
    step = question.criterion("holistic").step
    for a, b in zip(first, second, strict=True):
        # A restored prefix sums in another order than a fresh one: probabilities agree to about 0.01, so an
        # expected value on a snapping boundary may land one step over.
        assert abs(a.awards["holistic"].expected_points - b.awards["holistic"].expected_points) < 0.1
        assert abs(a.awards["holistic"].points - b.awards["holistic"].points) <= step
