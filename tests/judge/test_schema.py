"""Response schemas fix the criterion ids and bound the points; replies that break them are rejected."""

from __future__ import annotations

import json

import pytest

from pipeline.judge._judge import ReplyError, judged_criteria, parse_reply
from pipeline.judge._schema import (
    allowed_points,
    criterion_model,
    item_model,
    local_grammar,
    response_schema,
    verdict_points,
)
from rubric_schema import Criterion


def _criterion(points: float, step: float, **extra) -> Criterion:
    return Criterion(id="c", title="t", points=points, step=step, earns_points_for="x", **extra)


def test_allowed_points_are_multiples_of_the_step_up_to_the_max():
    assert allowed_points(_criterion(2, 0.5)) == [0.0, 0.5, 1.0, 1.5, 2.0]
    # 1 point in steps of 0.3: the max itself is allowed although it is no multiple
    assert allowed_points(_criterion(1, 0.3)) == [0.0, 0.3, 0.6, 0.9, 1.0]


def test_partial_verdict_is_at_most_half_and_at_least_one_step():
    assert verdict_points(_criterion(5, 0.5), "partial") == 2.5
    assert verdict_points(_criterion(3, 1), "partial") == 1.0
    assert verdict_points(_criterion(1, 1), "partial") == 1.0
    assert verdict_points(_criterion(3, 1), "yes") == 3 and verdict_points(_criterion(3, 1), "no") == 0


def test_item_schema_requires_exactly_the_judged_criterion_ids(question):
    criteria = judged_criteria(question)
    schema = response_schema(item_model(criteria))
    assert [c.id for c in criteria] == [
        "heap",
        "complexity",
        "metrics",
        "stream",
    ]  # code criterion not judged
    assert schema["required"] == ["heap", "complexity", "metrics", "stream"]
    assert schema["additionalProperties"] is False
    heap = schema["$defs"][schema["properties"]["heap"]["$ref"].split("/")[-1]]
    assert heap["properties"]["points"]["enum"] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert list(heap["properties"]) == [
        "evidence",
        "rationale",
        "points",
    ]  # the reason comes before the score
    metrics = schema["$defs"][schema["properties"]["metrics"]["$ref"].split("/")[-1]]
    assert set(metrics["properties"]) == {"mentions", "rationale"}


def _reply(**overrides) -> dict:
    reply = {
        "heap": {"evidence": "a", "rationale": "r", "points": 2},
        "complexity": {"evidence": "", "rationale": "r", "points": 0},
        "metrics": {"mentions": [], "rationale": "r"},
        "stream": {"evidence": "", "rationale": "r", "points": 0},
    }
    reply.update(overrides)
    return reply


def test_parse_reply_accepts_a_valid_reply_even_in_a_code_fence(question):
    model = item_model(judged_criteria(question))
    parsed = parse_reply(model, "```json\n" + json.dumps(_reply()) + "\n```")
    assert parsed.c0.points == 2.0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (json.dumps(_reply(heap={"evidence": "a", "rationale": "r", "points": 2.5})), "heap.points"),
        (json.dumps(_reply(heap={"evidence": "a", "rationale": "r", "points": 0.7})), "heap.points"),
        (json.dumps(_reply(invented={"evidence": "", "rationale": "", "points": 9})), "invented"),
        (json.dumps({k: v for k, v in _reply().items() if k != "stream"}), "stream"),
        ('{"heap": {"evidence": "a", "rationale": "r", "points": 2}', "<reply>"),
        ("I would give this answer 5/5.", "<reply>"),
    ],
    ids=["above-max", "off-step", "unknown-criterion", "missing-criterion", "truncated-json", "prose"],
)
def test_parse_reply_rejects_what_breaks_the_schema(question, content, problem):
    with pytest.raises(ReplyError, match="reply does not fit the schema") as error:
        parse_reply(item_model(judged_criteria(question)), content)
    assert problem in str(error.value)


def test_criterion_verdict_model_is_yes_partial_no(question):
    schema = response_schema(criterion_model(question.criteria[0], verdict=True))
    assert schema["properties"]["verdict"]["enum"] == ["yes", "partial", "no"]
    assert schema["required"] == ["evidence", "rationale", "verdict"]


def test_local_grammar_forces_a_short_quote_without_touching_the_rest(question):
    schema = response_schema(item_model(judged_criteria(question)))
    tightened = local_grammar(schema, max_chars=40)
    heap = tightened["$defs"][schema["properties"]["heap"]["$ref"].split("/")[-1]]
    metrics = tightened["$defs"][schema["properties"]["metrics"]["$ref"].split("/")[-1]]
    assert heap["properties"]["evidence"]["minLength"] == 1
    assert heap["properties"]["evidence"]["maxLength"] == 40
    assert heap["properties"]["rationale"]["maxLength"] == 40
    assert "minLength" not in str(schema) and "maxLength" not in str(schema)  # the original is not modified
    assert "evidence" not in metrics["properties"]
    assert metrics["properties"]["mentions"]["items"]["maxLength"] == 40
    assert "minLength" not in str(metrics["properties"]["rationale"])
