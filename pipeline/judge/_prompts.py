"""Prompt templates: files in pipeline/judge/prompts/ (package data) with ${named} slots, rendered rubric
first and answer last.

The rendered prompt up to the answer is the same for every answer to a question, so the server's
prompt cache reuses it. A line whose slots all render empty is dropped (no "Reference answer:" with
nothing after it). The answer is neutralised so it cannot close the <answer> block or forge the
chat template's role tokens.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Literal

from rubric_schema import Criterion, Question

Mode = Literal["distribution", "item", "criterion"]
"""distribution: one decoded token per criterion read as a score distribution; item and criterion: a
generated JSON verdict per item or per criterion (evidence, rationale, points)."""
PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
"""The shipped templates (package data: a wheel install has them too)."""
ANSWER_SLOT = "${answer}"

_SLOT = re.compile(r"\$\{(\w+)\}")
_ANSWER_TAG = re.compile(r"<\s*(/?)\s*answer\s*>", re.IGNORECASE)
_SPECIAL_TOKEN = re.compile(r"<\|([^|<>]{0,40})\|>")


class PromptError(RuntimeError):
    """A template is missing or has a slot nobody fills."""


@cache
def _read(directory: Path, name: str) -> str:
    path = directory / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise PromptError(f"prompt template {path} cannot be read: {error}") from None


def render(template: str, values: dict[str, str], *, source: str) -> str:
    """Fill ${slots}; drop lines whose slots are all empty; leave ${answer} for the caller."""
    lines = []
    for line in template.splitlines():
        slots = [s for s in _SLOT.findall(line) if s != "answer"]
        unknown = [s for s in slots if s not in values]
        if unknown:
            raise PromptError(f"prompt template {source}: no value for slot(s) {', '.join(unknown)}")
        if slots and not any(values[s].strip() for s in slots):
            continue
        lines.append(Template(line).safe_substitute(values))
    return "\n".join(lines).strip() + "\n"


def neutralise(answer: str) -> str:
    """Make the answer unable to end its <answer> block or to inject chat-template tokens."""
    answer = _ANSWER_TAG.sub(lambda m: f"‹{m.group(1)}answer›", answer)
    return _SPECIAL_TOKEN.sub(lambda m: f"‹{m.group(1)}›", answer)


def _number(points: float) -> str:
    return f"{points:g}"


def rubric_entry(criterion: Criterion, allowed: list[float] | None, *, mentions: bool = True) -> dict[str, str]:
    """Give the slot values describing one criterion; `mentions` False drops the verdict's mention-list lines."""
    mention = criterion.per_mention if mentions else None
    return {
        "criterion_id": criterion.id,
        "criterion_title": criterion.title,
        "points": _number(criterion.points),
        "earns_points_for": criterion.earns_points_for,
        "reference": criterion.reference,
        "grading_notes": criterion.grading_notes,
        "allowed": ", ".join(map(_number, allowed)) if allowed and mention is None else "",
        "points_each": _number(mention.points_each) if mention else "",
        "full_at": str(mention.full_at) if mention and mention.full_at else "",
    }


EXEMPLAR_MAX_CHARS = 600
"""An exemplar's text is cut here: each graded answer lengthens the question's prefix, evaluated once per round."""
_EXAMPLE_TAG = re.compile(r"<\s*(/?)\s*example\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Exemplar:
    """A graded answer of a question, shown in its prompt to anchor the grading standard (not judged itself)."""

    answer: str
    points: float
    max_points: float

    @property
    def answer_sha(self) -> str:
        """sha256 of the answer as written: an item with this answer is judged without this exemplar."""
        return hashlib.sha256(self.answer.encode()).hexdigest()


def _example_text(answer: str) -> str:
    """An exemplar's answer, cut to EXEMPLAR_MAX_CHARS, unable to end its <example> block, forge chat tokens or
    open a ${slot} of the template it is rendered into.
    """
    text = answer.strip()
    if len(text) > EXEMPLAR_MAX_CHARS:
        text = text[:EXEMPLAR_MAX_CHARS].rstrip() + " …"
    text = _EXAMPLE_TAG.sub(lambda m: f"‹{m.group(1)}example›", neutralise(text))
    return text.replace("${", "$ {")


def render_exemplars(language: str, exemplars: list[Exemplar], *, directory: Path | None = None) -> str:
    """The `${exemplars}` block of a distribution prompt: the graded answers, lowest grade first ("" for none)."""
    if not exemplars:
        return ""
    directory = directory or PROMPTS_DIR
    entry_name, block_name = f"exemplar.{language}.md", f"exemplars.{language}.md"
    ordered = sorted(exemplars, key=lambda e: (e.points / e.max_points, e.answer_sha))
    examples = [
        render(_read(directory, entry_name), {
            "number": str(number), "points": _number(e.points), "max_points": _number(e.max_points),
            "grade": str(math.floor(5 * e.points / e.max_points + 0.5)), "text": _example_text(e.answer),
        }, source=entry_name)
        for number, e in enumerate(ordered, start=1)
    ]  # fmt: skip
    block = render(_read(directory, block_name), {"examples": "\n".join(examples).strip()}, source=block_name)
    return "\n" + block.strip()


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt with an empty answer slot; `sha` identifies template, rubric text and schema."""

    system: str
    user: str
    sha: str

    @property
    def prefix(self) -> str:
        """The text every call of the question shares, up to the answer (system prompt and user prompt head)."""
        return self.system + self.user.split(ANSWER_SLOT, 1)[0]

    @property
    def prefix_sha(self) -> str:
        """sha256 of `prefix`: the key of the question's evaluated prefix on a server."""
        return hashlib.sha256(self.prefix.encode()).hexdigest()

    def messages(self, answer: str) -> list[dict[str, str]]:
        """Chat messages with the (neutralised) answer put last."""
        user = self.user.replace(ANSWER_SLOT, neutralise(answer))
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


def build_prompt(
    question: Question,
    criteria: list[tuple[Criterion, list[float] | None]],
    *,
    mode: Mode,
    schema: dict[str, Any] | list[str],
    directory: Path | None = None,
    ask: str | None = None,
    ask_before_answer: bool = False,
    extra: dict[str, str] | None = None,
) -> Prompt:
    """Render the system and user templates of `mode` in the question's language.

    `schema` is what the reply is held to: a JSON Schema, or the labels of a one-token reply.
    `ask` names the template rendered into the user template's `${ask}`, after the answer: the one part
    of a distribution prompt that differs between the criteria of a question, so that every call for one
    answer shares the prompt up to it and the server evaluates the answer once, not once per criterion.
    `ask_before_answer` renders it into `${ask_first}` instead, where no other call shares the answer (one
    call per answer): the answer then ends the prompt, and a server evaluates only its tokens per call.
    """
    directory = directory or PROMPTS_DIR
    language = question.language
    entry_name = f"rubric_entry.{language}.md"
    entries = [
        render(_read(directory, entry_name), rubric_entry(c, a, mentions=mode != "distribution"), source=entry_name)
        for c, a in criteria
    ]
    values = {
        "question_id": question.id,
        "question_title": question.title,
        "question_prompt": question.prompt,
        "criteria": "\n".join(entries).strip(),
        "exemplars": "",
        **(extra or {}),
    }
    if ask is not None:
        ask_name = f"{ask}.ask.{language}.md"
        asked = render(_read(directory, ask_name), values, source=ask_name).strip()
        # The template's ${ask_first} line has no blank line above it, so a dropped one leaves the text as it was.
        values["ask_first"], values["ask"] = ("\n" + asked, "") if ask_before_answer else ("", asked)
    system_name = f"{mode}.system.{language}.md"
    user_name = f"{mode}.user.{language}.md"
    system = render(_read(directory, system_name), values, source=system_name)
    user = render(_read(directory, user_name), values, source=user_name)
    if ANSWER_SLOT not in user:
        raise PromptError(f"prompt template {directory / user_name} has no ${{answer}} slot")
    payload = json.dumps([system, user, schema], sort_keys=True, ensure_ascii=False)
    return Prompt(system=system, user=user, sha=hashlib.sha256(payload.encode()).hexdigest())
