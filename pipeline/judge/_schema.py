"""Response schemas built from an item's criteria: the ids are fixed, points bounded by max and step.

The same pydantic model is sent as the JSON Schema of the structured output (so a grammar-constrained
server cannot produce anything else) and used to validate the reply (so a server that ignores the
schema cannot slip an unknown criterion or an out-of-range score through).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from rubric_schema import POINT_TOLERANCE, Criterion

Verdict = Literal["yes", "partial", "no"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def allowed_points(criterion: Criterion) -> list[float]:
    """Multiples of the criterion's step from 0 up to its points, and the points themselves."""
    values: list[float] = []
    k = 0
    while k * criterion.step <= criterion.points + POINT_TOLERANCE:
        values.append(round(k * criterion.step, 2))
        k += 1
    if abs(values[-1] - criterion.points) > POINT_TOLERANCE:
        values.append(round(criterion.points, 2))
    return values


def verdict_points(criterion: Criterion, verdict: Verdict) -> float:
    """Yes → full points, partial → the largest allowed value not above half (at least one step), no → 0."""
    if verdict == "yes":
        return criterion.points
    if verdict == "no":
        return 0.0
    half = [v for v in allowed_points(criterion) if 0 < v <= criterion.points / 2 + POINT_TOLERANCE]
    return half[-1] if half else allowed_points(criterion)[1]


def _criterion_fields(criterion: Criterion, *, verdict: bool) -> dict[str, Any]:
    if criterion.per_mention is not None:
        return {"mentions": (list[str], ...), "rationale": (str, ...)}
    if verdict:
        return {"evidence": (str, ...), "rationale": (str, ...), "verdict": (Verdict, ...)}
    points = Literal[tuple(allowed_points(criterion))]  # type: ignore[valid-type]
    return {"evidence": (str, ...), "rationale": (str, ...), "points": (points, ...)}


def criterion_model(criterion: Criterion, *, verdict: bool, index: int = 0) -> type[BaseModel]:
    """Build the reply model of one criterion: evidence, rationale, then the score (reason before verdict)."""
    name = f"Criterion{index}{'Verdict' if verdict else 'Points'}"
    return create_model(name, __base__=_Strict, **_criterion_fields(criterion, verdict=verdict))


def item_model(criteria: list[Criterion]) -> type[BaseModel]:
    """Build the reply model of one item: one required property per criterion id, nothing else."""
    fields: dict[str, Any] = {
        f"c{i}": (criterion_model(c, verdict=False, index=i), Field(..., alias=c.id))
        for i, c in enumerate(criteria)
    }
    return create_model("ItemVerdict", __base__=_Strict, **fields)


def response_schema(model: type[BaseModel]) -> dict[str, Any]:
    """JSON Schema of a reply model, by alias (the criterion ids), every property required."""
    return model.model_json_schema(by_alias=True)


def local_grammar(schema: dict[str, Any], *, max_chars: int) -> dict[str, Any]:
    """Tighten a schema for servers whose grammar enforces string lengths (llama-server, vLLM on loopback).

    Evidence must be non-empty (minLength 1): the local 1.5B model left it empty for most correct Chinese
    answers (so their points were withheld); forced to write something, it quotes. Evidence, rationale and
    each mention are capped at max_chars (maxLength): uncapped, the model copied whole paragraphs and an
    item's verdict took minutes to decode; a cut quote is still verbatim.
    Holding evidence to the answer's own clauses (an enum) was tried and dropped: the model then always
    found a clause to cite and the points stood, and agreement with the human grades fell (a quote that is
    not in the answer withholding its points agrees better: quoting the reference is how this model shows
    that the answer lacks the point). Both measurements: docs/BENCHMARKS.md, "Figures behind code choices".
    OpenAI's strict mode accepts neither keyword, so remote endpoints get the plain schema. The reply
    model itself does not depend on them, so a server that ignores the keywords is checked all the same.
    """
    tightened = copy.deepcopy(schema)
    for node in [tightened, *tightened.get("$defs", {}).values()]:
        properties = node.get("properties", {})
        for name in ("evidence", "rationale"):
            field = properties.get(name)
            if field is not None and field.get("type") == "string":
                field["maxLength"] = max_chars
                if name == "evidence":
                    field["minLength"] = 1
        mentions = properties.get("mentions")
        if mentions is not None and mentions.get("items", {}).get("type") == "string":
            mentions["items"]["maxLength"] = max_chars
    return tightened


def schema_sha(schema: dict[str, Any]) -> str:
    """Content hash of a schema: part of what a cached reply depends on."""
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
