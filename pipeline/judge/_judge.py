"""The judge: an item's free-text criteria → per-criterion awards held to the rubric, with checks.

Every reply is schema-checked (criterion ids, allowed points), every awarded criterion must quote
the answer verbatim, answers are screened for text addressed to the grader, and a call that fails or
cannot be parsed leaves its criteria unscored with the reason: never a silent 0.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.ingest import Item
from pipeline.judge._backend import ChatBackend, ChatCallError, NoLogprobsError, OpenAIChat
from pipeline.judge._cache import CachedReply, JudgeCache, cache_key
from pipeline.judge._checks import agreement, combine, confidence, distinct_mentions, quote_in, two_sentences
from pipeline.judge._distribution import KEY_POINT_SCALE, Scale, criterion_scale, read, read_key_points
from pipeline.judge._injection import Screening, canonical, screen
from pipeline.judge._intent import default_intent_reader
from pipeline.judge._local import LocalChat, sigterm_as_exit
from pipeline.judge._outage import JudgeUnavailable, PatientChat, patience_for
from pipeline.judge._prefix_states import PrefixStates, SlotServer
from pipeline.judge._prompts import Exemplar, Mode, Prompt, build_prompt, neutralise, render_exemplars
from pipeline.judge._schema import (
    allowed_points,
    criterion_model,
    item_model,
    local_grammar,
    response_schema,
    verdict_points,
)
from pipeline.judge._settings import JudgeSettings
from pipeline.reasons import ReviewKind, ReviewReason, joined
from pipeline.scoring import NOT_JUDGED, CriterionAward, judged_points
from rubric_schema import Criterion, Question, question_sha

log = logging.getLogger(__name__)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JudgeCall(_Frozen):
    """One sample's call(s) for one item: the columns of the `judge_calls` table."""

    sample: int
    model: str
    prompt_sha: str
    """sha256 of the rendered prompt (templates, rubric text, response schema) without the answer."""
    rubric_sha: str
    """Content hash of the question as judged (`rubric_schema.question_sha`)."""
    cache_hit: bool
    latency_ms: float
    tokens_in: int
    tokens_out: int
    tokens_cached: int | None = None
    """Prompt tokens the server reused (its slot's cache, a restored prefix state); None where it does not say."""
    tokens_evaluated: int | None = None
    """Prompt tokens the server computed for these calls; None where it does not say."""
    tokens_floor: int | None = None
    """The fewest prompt tokens these calls could cost with the question's prefix already evaluated: the
    answer once and each ask after it; None where the endpoint cannot count tokens."""
    prefix_sha: str | None = None
    """The question's shared prompt prefix (`Prompt.prefix_sha`) when a call was made; a round evaluates it
    at least once."""
    prefix_tokens: int | None = None
    error: str | None = None


class ItemJudgment(_Frozen):
    """The judge's verdict on one item's free-text criteria."""

    submission_id: str
    question_id: str
    awards: dict[str, CriterionAward]
    """One award per judged criterion (answer_kind text or both; bonus and group alternatives included)."""
    confidence: float = Field(ge=0, le=1)
    """Agreement between samples, weighted by points; with one sample it only drops for failed calls."""
    needs_review: bool
    review_reasons: list[ReviewReason] = Field(default_factory=list)
    injection_suspected: bool = False
    calls: list[JudgeCall] = Field(default_factory=list)


class JudgeConfigError(RuntimeError):
    """The judge settings cannot work (e.g. an endpoint without a model name)."""


@dataclass
class JudgeStats:
    """What a Judge spent: calls made, cache hits, failures, tokens."""

    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cached_tokens: int = 0
    evaluated_tokens: int = 0
    explained: int = 0
    """Items given the generated evidence-and-rationale pass (routed to review, or asked for)."""
    fallback: str = ""
    """Why the distribution judge fell back to generated verdicts (an endpoint without log-probabilities)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        """Add to counters from any thread."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


@dataclass(frozen=True)
class _Spec:
    """One kind of call for one question: prompt, reply model and schema."""

    prompt: Prompt
    reply: type[BaseModel]
    schema: dict[str, Any]
    schema_name: str
    max_tokens: int
    scale: Scale | None = None
    """The labels of a one-token reply (distribution mode); None for a generated JSON verdict."""


@dataclass(frozen=True)
class _Verdict:
    """One sample's verdict on one criterion, after the checks."""

    points: float | None
    reason: ReviewReason | None = None
    mentions: int | None = None
    evidence: str = ""
    verified: bool = False
    rationale: str = ""
    expected_points: float | None = None
    distribution: dict[str, float] | None = None
    confidence: float = 1.0
    """A distribution's own confidence (its spread); 1 for a generated verdict, whose samples say it."""


@dataclass
class _Record:
    cache_hit: bool = True
    latency_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int | None = 0
    tokens_evaluated: int | None = 0
    """None once a call's server did not say."""
    fresh: list[int] = field(default_factory=list)
    """The prompt size of each call the model was asked (not the cache), in order."""
    prefix: Prompt | None = None
    """The prompt of the first such call: its prefix is the question's."""
    errors: list[ReviewReason] = field(default_factory=list)
    prompt_shas: list[str] = field(default_factory=list)

    def spent(self, prompt: Prompt, tokens_in: int, cached: int | None, evaluated: int | None) -> None:
        """Count one call the model was asked."""
        self.cache_hit = False
        self.fresh.append(tokens_in)
        self.prefix = self.prefix or prompt
        self.tokens_cached = None if cached is None or self.tokens_cached is None else self.tokens_cached + cached
        self.tokens_evaluated = (
            None if evaluated is None or self.tokens_evaluated is None else self.tokens_evaluated + evaluated
        )


def judged_criteria(question: Question) -> list[Criterion]:
    """List the criteria the judge decides: every one that can be earned in prose."""
    return [c for c in question.all_criteria() if c.answer_kind != "code"]


class ReplyError(ValueError):
    """A reply that is not JSON of the expected schema."""


def parse_reply(reply: type[BaseModel], content: str) -> BaseModel:
    """Validate a reply against its model: unknown criteria and out-of-range points are rejected."""
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        return reply.model_validate_json(text)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<reply>'}: {e['msg']}" for e in error.errors()[:3]
        )
        raise ReplyError(f"reply does not fit the schema ({problems}): {content[:120]!r}") from None


def check_verdict(criterion: Criterion, raw: BaseModel, answer: str) -> _Verdict:
    """Check one criterion's raw verdict: verbatim evidence, distinct mentions, short rationale."""
    rationale = two_sentences(getattr(raw, "rationale", ""))
    if criterion.per_mention is not None:
        kept, rejected = distinct_mentions(answer, raw.mentions)
        reason = None
        if rejected:
            listed = ", ".join(repr(m[:40]) for m in rejected[:3])
            reason = ReviewReason(
                kind=ReviewKind.EVIDENCE,
                detail=f"{len(rejected)} mention(s) not found in the answer, not counted: {listed}",
            )
        return _Verdict(
            points=judged_points(criterion, mentions=len(kept)),  # the rule is scoring's: the judge counts
            mentions=len(kept),
            evidence="; ".join(kept),
            verified=bool(kept),
            rationale=rationale,
            reason=reason,
        )
    points = raw.points if hasattr(raw, "points") else verdict_points(criterion, raw.verdict)  # type: ignore[attr-defined]
    evidence = getattr(raw, "evidence", "").strip()
    verified = bool(evidence) and quote_in(answer, evidence)
    if points > 0 and not verified:
        reason = ReviewReason(
            kind=ReviewKind.EVIDENCE,
            detail=f"evidence not found in the answer ({evidence[:60]!r}); {points:g} point(s) withheld"
            if evidence
            else f"no evidence quoted; {points:g} point(s) withheld",
        )
        return _Verdict(points=0.0, evidence=evidence, verified=False, rationale=rationale, reason=reason)
    return _Verdict(points=float(points), evidence=evidence, verified=verified, rationale=rationale)


def _combine(criterion: Criterion, verdicts: list[_Verdict], samples: int) -> tuple[CriterionAward, float]:
    """Median over the samples that scored; the award carries the evidence of a sample at the median."""
    scored = [v for v in verdicts if v.points is not None]
    if not scored:
        failures = {v.reason.text: v.reason for v in verdicts if v.reason is not None}
        reason = joined([failures[text] for text in sorted(failures)]) if failures else NOT_JUDGED
        return CriterionAward(points=None, reason=reason), 0.0
    if criterion.per_mention is not None:
        middle = combine([v.mentions or 0 for v in scored])
        chosen = next(v for v in scored if (v.mentions or 0) == middle)
    else:
        middle = combine([v.points for v in scored if v.points is not None])
        chosen = next(v for v in scored if v.points == middle)
    award = CriterionAward(
        points=chosen.points,
        mentions=chosen.mentions,
        evidence=chosen.evidence,
        evidence_verified=chosen.verified,
        rationale=chosen.rationale,
        reason=chosen.reason,
        expected_points=chosen.expected_points,
        distribution=chosen.distribution,
    )
    agreed = agreement(criterion, [v.points for v in scored if v.points is not None], samples)
    return award, agreed * chosen.confidence


class Judge:
    """Judges items against their questions through a ChatBackend, with a cache and checks."""

    def __init__(
        self,
        backend: ChatBackend,
        settings: JudgeSettings,
        *,
        cache: JudgeCache | None = None,
        exemplars: Mapping[str, list[Exemplar]] | None = None,
    ):
        self.backend = backend
        self.settings = settings
        self.cache = cache if cache is not None else JudgeCache(settings.cache_dir)
        self.stats = JudgeStats()
        self.exemplars = dict(exemplars or {})
        """Graded answers per question id, shown in the distribution prompt's prefix (see `_exemplars_for`)."""
        self._specs: dict[tuple[str, str | None, int | None, str | None], _Spec] = {}
        self._specs_lock = threading.Lock()
        self._shas: dict[int, tuple[Question, str]] = {}
        self._checked_labels: set[tuple[str, ...]] = set()
        meaning = settings.screen_injections and settings.screen_meaning
        self.intent = default_intent_reader(settings.cache_root) if meaning else None
        """Reads sentences by meaning for the injection screen; None: the screen's patterns only."""
        self.prefixes = (
            PrefixStates(backend, settings.prefix_states_path, settings.prefix_state_max_mib << 20)
            if isinstance(backend, SlotServer) and settings.prefix_states
            else None
        )
        """The questions' prefixes saved by earlier rounds (the embedded server's slots); None elsewhere."""
        self._slot_prefix: dict[int, str] = {}
        """The prefix each server slot holds now (each slot is one lane's: no lock needed per slot)."""
        self._token_counts: dict[str, int | None] = {}
        self._token_counts_lock = threading.Lock()

    @property
    def slots(self) -> int:
        """The server slots lanes can be pinned to (llama-server's --parallel); 0 where there are none."""
        return int(getattr(self.backend, "slots", 0))

    def _tokens(self, text: str) -> int | None:
        """The model's token count of `text` (once per text), where the backend can count."""
        key = hashlib.sha256(text.encode()).hexdigest()
        with self._token_counts_lock:
            if key in self._token_counts:
                return self._token_counts[key]
        count = getattr(self.backend, "token_count", None)
        try:
            counted = count(text) if count is not None else None
        except ChatCallError:  # accounting only: the server being gone is the judge calls' to report
            return None
        with self._token_counts_lock:
            self._token_counts[key] = counted
        return counted

    def _floor(self, record: _Record, answer: str) -> tuple[int | None, int | None]:
        """(tokens_floor, prefix_tokens) of a sample's calls: each call past the question's prefix, less the
        answer for every call after the first (it is the shared prompt of the calls that follow it).
        """
        if record.prefix is None:
            return 0, None
        prefix, answered = self._tokens(record.prefix.prefix), self._tokens(neutralise(answer))
        if prefix is None or answered is None:
            return None, prefix
        floor = sum(tokens - prefix for tokens in record.fresh) - (len(record.fresh) - 1) * answered
        return max(floor, 0), prefix

    def _question_sha(self, question: Question) -> str:
        """question_sha once per question object: it serialises the whole question, a cost on every call."""
        known = self._shas.get(id(question))
        if known is None or known[0] is not question:
            known = (question, question_sha(question))
            self._shas[id(question)] = known  # the question is kept, so its id is not reused
        return known[1]

    @property
    def mode(self) -> Mode:
        """The configured mode, or a generated verdict once the endpoint showed it has no log-probabilities."""
        if self.settings.mode == "distribution" and self.stats.fallback:
            return "criterion"
        return self.settings.mode

    def _exemplar_left_out(self, question: Question, raw_answer: str) -> str | None:
        """The sha of the question's exemplar that is this very answer, if one is: never shown to judge itself."""
        sha = hashlib.sha256(raw_answer.encode()).hexdigest()
        return sha if any(e.answer_sha == sha for e in self.exemplars.get(question.id, [])) else None

    def _exemplars_for(self, question: Question, left_out: str | None) -> str:
        """The question's `${exemplars}` block, less the exemplar `left_out` names."""
        shown = [e for e in self.exemplars.get(question.id, []) if e.answer_sha != left_out]
        return render_exemplars(question.language, shown, directory=self.settings.prompts_dir)

    def _spec(
        self,
        question: Question,
        criterion: Criterion | None,
        mode: Mode | None = None,
        key_point: int | None = None,
        left_out: str | None = None,
    ) -> _Spec:
        mode = mode or self.mode
        key = (self._question_sha(question) + mode, criterion.id if criterion else None, key_point, left_out)
        with self._specs_lock:
            if key in self._specs:
                return self._specs[key]
        if mode == "distribution":
            assert criterion is not None
            exemplars = self._exemplars_for(question, left_out)
            spec = (
                self._distribution_spec(question, criterion, exemplars)
                if key_point is None
                else self._key_point_spec(question, criterion, key_point, exemplars)
            )
        else:
            spec = self._verdict_spec(question, criterion, mode)
        with self._specs_lock:
            self._specs[key] = spec
        return spec

    def _distribution_spec(self, question: Question, criterion: Criterion, exemplars: str) -> _Spec:
        scale = criterion_scale(criterion)
        criteria = judged_criteria(question)
        prompt = build_prompt(
            question, [(c, None) for c in criteria], mode="distribution",
            schema=list(scale.labels), directory=self.settings.prompts_dir,
            ask="distribution_count" if scale.counts else "distribution_grade",
            ask_before_answer=len(criteria) == 1,  # the answer's only call: nothing after it to share
            extra={
                "criterion_id": criterion.id, "criterion_title": criterion.title, "max_count": scale.labels[-1],
                "exemplars": exemplars,
            },
        )  # fmt: skip
        return _Spec(prompt=prompt, reply=BaseModel, schema={}, schema_name="", max_tokens=1, scale=scale)

    def _key_point_spec(self, question: Question, criterion: Criterion, index: int, exemplars: str) -> _Spec:
        """One key point of a criterion, asked after the answer like a grade: is it stated, 1 or 0."""
        key_points = criterion.judged_key_points
        prompt = build_prompt(
            question, [(c, None) for c in judged_criteria(question)], mode="distribution",
            schema=list(KEY_POINT_SCALE.labels), directory=self.settings.prompts_dir, ask="distribution_key_point",
            extra={
                "criterion_id": criterion.id, "criterion_title": criterion.title, "key_point": key_points[index],
                "key_point_number": str(index + 1), "key_points": str(len(key_points)), "exemplars": exemplars,
            },
        )  # fmt: skip
        return _Spec(prompt=prompt, reply=BaseModel, schema={}, schema_name="", max_tokens=1, scale=KEY_POINT_SCALE)

    def _verdict_spec(self, question: Question, criterion: Criterion | None, mode: Mode) -> _Spec:
        budget = self.settings.max_tokens_per_criterion
        if criterion is None:
            criteria = judged_criteria(question)
            reply = item_model(criteria)
            entries = [(c, allowed_points(c)) for c in criteria]
            max_tokens = budget * len(criteria) + 32
        else:
            reply = criterion_model(criterion, verdict=True)
            entries = [(criterion, None)]
            max_tokens = budget + 32
        schema = response_schema(reply)
        if self.settings.base_url is None or _is_loopback(self.settings.base_url):
            schema = local_grammar(schema, max_chars=self.settings.local_text_max_chars)
        prompt = build_prompt(question, entries, mode=mode, schema=schema, directory=self.settings.prompts_dir)
        return _Spec(prompt=prompt, reply=reply, schema=schema, schema_name="judgment", max_tokens=max_tokens)

    def _labels_checked(self, scale: Scale) -> None:
        """Each label must be one token of the model's vocabulary (asked once per label set, where it can be)."""
        if scale.labels in self._checked_labels:
            return
        probe = getattr(self.backend, "single_tokens", None)
        split = probe(scale.labels) if probe is not None else None
        if split:
            raise JudgeConfigError(
                f"the judge model splits the label(s) {', '.join(split)} into several tokens: "
                "a one-token distribution cannot be read; set GRADEFLOW_JUDGE_MODE=criterion"
            )
        self._checked_labels.add(scale.labels)

    def _failed(self, record: _Record, started: float, error: ChatCallError) -> None:
        """Count a call that failed after its retries; its criteria stay unscored with the error as reason."""
        record.latency_ms += (time.perf_counter() - started) * 1000
        kind = ReviewKind.JUDGE_UNAVAILABLE if isinstance(error, JudgeUnavailable) else ReviewKind.JUDGE_ERROR
        record.errors.append(ReviewReason(kind=kind, detail=str(error)).under("call failed: "))
        self.stats.add(calls=1, failures=1)

    def _call_distribution(
        self,
        spec: _Spec,
        *,
        rubric_sha: str,
        answer: str,
        raw_answer: str,
        sample: int,
        record: _Record,
        slot: int | None = None,
    ) -> dict[str, float] | None:
        """The labels' probabilities for one answer: from the cache, else from one decoded token."""
        assert spec.scale is not None
        record.prompt_shas.append(spec.prompt.sha)
        key = cache_key(
            model=self.backend.model, prompt_sha=spec.prompt.sha, rubric_sha=rubric_sha,
            answer=answer, raw_answer=raw_answer, sample=sample, temperature=0.0,
        )  # fmt: skip
        cached = self.cache.get(key)
        if cached is not None:
            with contextlib.suppress(ValueError, TypeError):
                probabilities = {str(k): float(v) for k, v in json.loads(cached.content).items()}
                if set(probabilities) == set(spec.scale.labels):
                    self.stats.add(cache_hits=1)
                    return probabilities
        record.cache_hit = False
        self._labels_checked(spec.scale)
        restored = self._enter_slot(slot, spec.prompt)
        started = time.perf_counter()
        try:
            reply = self.backend.distribution(
                spec.prompt.messages(answer), labels=spec.scale.labels, seed=sample,
                **({"slot": slot} if slot is not None else {}),
            )  # fmt: skip
        except NoLogprobsError:
            raise
        except ChatCallError as error:
            self._failed(record, started, error)
            return None
        record.latency_ms += (time.perf_counter() - started) * 1000
        record.tokens_in += reply.tokens_in
        record.tokens_out += 1
        record.spent(spec.prompt, reply.tokens_in, reply.cached_tokens, reply.evaluated_tokens)
        self.stats.add(
            calls=1, tokens_in=reply.tokens_in, tokens_out=1, cached_tokens=reply.cached_tokens or 0,
            evaluated_tokens=reply.evaluated_tokens or 0,
        )  # fmt: skip
        self._leave_slot(slot, spec.prompt, restored, reply.cached_tokens)
        content = json.dumps(reply.probabilities, sort_keys=True)
        self.cache.put(
            key,
            CachedReply(content=content, tokens_in=reply.tokens_in, tokens_out=1, latency_ms=reply.latency_ms),
        )
        return reply.probabilities

    def _enter_slot(self, slot: int | None, prompt: Prompt) -> bool | None:
        """Before a call on `slot`: where the slot holds another question's prefix, restore this one's if an
        earlier round saved it. True: restored; False: to be evaluated (and saved); None: the slot has it.
        """
        if slot is None or self.prefixes is None or self._slot_prefix.get(slot) == prompt.prefix_sha:
            return None
        self._slot_prefix[slot] = prompt.prefix_sha
        try:
            return self.prefixes.restore(slot, prompt.prefix_sha)
        except (ChatCallError, OSError) as error:  # a saved prefix only saves time: evaluate it instead
            log.warning("prefix state not restored into slot %d: %s", slot, error)
            return False

    def _leave_slot(self, slot: int | None, prompt: Prompt, restored: bool | None, cached: int | None) -> None:
        """After a call on `slot`: confirm a restore took, or save the prefix the slot has just evaluated."""
        if slot is None or self.prefixes is None or restored is None:
            return
        try:
            if restored:
                prefix_tokens = self._tokens(prompt.prefix)
                self.prefixes.confirm(slot, prompt.prefix_sha, cached_tokens=cached, prefix_tokens=prefix_tokens)
            else:
                self.prefixes.save(slot, prompt.prefix_sha)
        except (ChatCallError, OSError) as error:  # the call's result stands; only the saved state is lost
            log.warning("prefix state of slot %d not saved: %s", slot, error)

    def _call(
        self,
        spec: _Spec,
        *,
        rubric_sha: str,
        answer: str,
        raw_answer: str,
        sample: int,
        temperature: float,
        record: _Record,
    ) -> BaseModel | None:
        """One reply for one prompt: from the cache, else from the model; None (with the error) on failure."""
        record.prompt_shas.append(spec.prompt.sha)
        key = cache_key(
            model=self.backend.model,
            prompt_sha=spec.prompt.sha,
            rubric_sha=rubric_sha,
            answer=answer,
            raw_answer=raw_answer,
            sample=sample,
            temperature=temperature,
        )
        cached = self.cache.get(key)
        if cached is not None:
            with contextlib.suppress(ReplyError):
                parsed = parse_reply(spec.reply, cached.content)
                self.stats.add(cache_hits=1)
                return parsed
        record.cache_hit = False
        started = time.perf_counter()
        try:
            reply = self.backend.complete(
                spec.prompt.messages(answer),
                schema=spec.schema,
                schema_name=spec.schema_name,
                temperature=temperature,
                seed=sample,
                max_tokens=spec.max_tokens,
            )
        except ChatCallError as error:
            self._failed(record, started, error)
            return None
        record.latency_ms += (time.perf_counter() - started) * 1000
        record.tokens_in += reply.tokens_in
        record.tokens_out += reply.tokens_out
        record.spent(spec.prompt, reply.tokens_in, reply.cached_tokens, reply.evaluated_tokens)
        self.stats.add(
            calls=1,
            tokens_in=reply.tokens_in,
            tokens_out=reply.tokens_out,
            cached_tokens=reply.cached_tokens or 0,
            evaluated_tokens=reply.evaluated_tokens or 0,
        )
        try:
            parsed = parse_reply(spec.reply, reply.content)
        except ReplyError as error:
            record.errors.append(ReviewReason(kind=ReviewKind.JUDGE_ERROR, detail=str(error)))
            self.stats.add(failures=1)
            return None
        self.cache.put(
            key,
            CachedReply(
                content=reply.content,
                tokens_in=reply.tokens_in,
                tokens_out=reply.tokens_out,
                latency_ms=reply.latency_ms,
            ),
        )
        return parsed

    def _sample(
        self,
        question: Question,
        criteria: list[Criterion],
        answer: str,
        raw_answer: str,
        sample: int,
        temperature: float,
        mode: Mode,
        slot: int | None = None,
    ) -> tuple[dict[str, _Verdict], JudgeCall]:
        rubric_sha = self._question_sha(question)
        record = _Record()
        verdicts: dict[str, _Verdict] = {}
        common = {"rubric_sha": rubric_sha, "answer": answer, "raw_answer": raw_answer, "sample": sample}
        if mode == "distribution":
            common["slot"] = slot
            left_out = self._exemplar_left_out(question, raw_answer)
            for criterion in criteria:
                key_points = len(criterion.judged_key_points) if self.settings.key_points else 0
                if key_points:
                    verdicts[criterion.id] = self._key_points_verdict(
                        question, criterion, key_points, record, common, left_out
                    )
                    continue
                spec = self._spec(question, criterion, mode, left_out=left_out)
                probabilities = self._call_distribution(spec, record=record, **common)
                if probabilities is None:
                    verdicts[criterion.id] = _Verdict(points=None, reason=record.errors[-1])
                    continue
                assert spec.scale is not None
                reading = read(criterion, spec.scale, probabilities)
                verdicts[criterion.id] = _Verdict(
                    points=reading.points, expected_points=reading.expected_points,
                    distribution=reading.distribution, confidence=reading.confidence,
                )  # fmt: skip
        elif mode == "item":
            spec = self._spec(question, None, mode)
            parsed = self._call(spec, temperature=temperature, record=record, **common)
            for index, criterion in enumerate(criteria):
                verdicts[criterion.id] = (
                    check_verdict(criterion, getattr(parsed, f"c{index}"), answer)
                    if parsed is not None
                    else _Verdict(points=None, reason=record.errors[-1])
                )
        else:
            for criterion in criteria:
                spec = self._spec(question, criterion, mode)
                parsed = self._call(spec, temperature=temperature, record=record, **common)
                verdicts[criterion.id] = (
                    check_verdict(criterion, parsed, answer)
                    if parsed is not None
                    else _Verdict(points=None, reason=record.errors[-1])
                )
        prompt_sha = (
            record.prompt_shas[0] if len(record.prompt_shas) == 1 else _joined_sha(record.prompt_shas)
        )
        floor, prefix_tokens = self._floor(record, answer) if mode == "distribution" else (None, None)
        call = JudgeCall(
            sample=sample,
            model=self.backend.model,
            prompt_sha=prompt_sha,
            rubric_sha=rubric_sha,
            cache_hit=record.cache_hit,
            latency_ms=round(record.latency_ms, 1),
            tokens_in=record.tokens_in,
            tokens_out=record.tokens_out,
            tokens_cached=record.tokens_cached,
            tokens_evaluated=record.tokens_evaluated,
            tokens_floor=floor,
            prefix_sha=record.prefix.prefix_sha if record.prefix is not None else None,
            prefix_tokens=prefix_tokens,
            error="; ".join(e.text for e in record.errors) or None,
        )
        return verdicts, call

    def _key_points_verdict(
        self,
        question: Question,
        criterion: Criterion,
        count: int,
        record: _Record,
        common: dict[str, Any],
        left_out: str | None,
    ) -> _Verdict:
        """Ask each key point of a criterion (stated or not) and read the criterion's points from all of them."""
        p_stated = []
        for index in range(count):
            spec = self._spec(question, criterion, "distribution", key_point=index, left_out=left_out)
            probabilities = self._call_distribution(spec, record=record, **common)
            if probabilities is None:
                return _Verdict(points=None, reason=record.errors[-1])
            p_stated.append(probabilities.get("1", 0.0) / (sum(probabilities.values()) or 1.0))
        reading = read_key_points(criterion, p_stated)
        return _Verdict(
            points=reading.points, expected_points=reading.expected_points,
            distribution=reading.distribution, confidence=reading.confidence,
        )  # fmt: skip

    def _judge_text(
        self,
        question: Question,
        criteria: list[Criterion],
        text: str,
        raw_answer: str,
        samples: int,
        slot: int | None = None,
    ) -> tuple[dict[str, CriterionAward], list[float], list[JudgeCall]]:
        """Awards for one text of an answer, the per-criterion agreement, and the calls made."""
        mode = self.mode
        if mode == "distribution":
            samples = 1  # one decoded token at temperature 0: another sample would be the same token
        temperature = self.settings.temperature if samples == 1 else self.settings.sample_temperature
        try:
            per_sample = [
                self._sample(question, criteria, text, raw_answer, s, temperature, mode, slot)
                for s in range(samples)
            ]
        except NoLogprobsError as error:
            with self.stats._lock:
                self.stats.fallback = self.stats.fallback or str(error)
            return self._judge_text(question, criteria, text, raw_answer, self.settings.samples)
        awards: dict[str, CriterionAward] = {}
        agreements: list[float] = []
        for criterion in criteria:
            award, agreed = _combine(criterion, [verdicts[criterion.id] for verdicts, _ in per_sample], samples)
            awards[criterion.id] = award
            agreements.append(agreed)
        return awards, agreements, [call for _, call in per_sample]

    def judge_item(
        self, question: Question, item: Item, *, samples: int | None = None, slot: int | None = None
    ) -> ItemJudgment:
        """Judge one item; `samples` > 1 draws that many generated verdicts and takes the median. `slot`: the
        server slot its one-token calls go to (one lane's; see judge_items).

        Text the screen takes for an injection is cut before judging. Where the screen removed most of
        the answer, the full text is judged too and the item goes to review at low confidence with both
        scores: the lower stands (a drop means the removed text carried points). Where the screen left
        nothing, the item is unscored with both scores in its reason: the screen is a heuristic and must
        never zero an honest answer, and the full text may be nothing but an injection.
        """
        samples = samples or self.settings.samples
        criteria = judged_criteria(question)
        base = {"submission_id": item.submission_id, "question_id": question.id}
        if not criteria:
            return ItemJudgment(**base, awards={}, confidence=1.0, needs_review=False)
        full_text = canonical(item.answer)
        if not full_text:
            awards = {c.id: CriterionAward(points=0.0, reason=_EMPTY) for c in criteria}
            return ItemJudgment(**base, awards=awards, confidence=1.0, needs_review=False)
        screening = (
            screen(item.answer, intent=self.intent)
            if self.settings.screen_injections
            else Screening(text=full_text, findings=[])
        )
        reasons: list[ReviewReason] = []
        if screening.suspected:
            said = "possible prompt injection, removed before judging: " + " | ".join(screening.findings[:3])
            reasons.append(ReviewReason(kind=ReviewKind.INJECTION, detail=said))
        removed = 1.0 - len(screening.text.strip()) / max(len(full_text.strip()), 1)
        awards, agreements, calls = self._judge_text(
            question, criteria, screening.text, item.answer, samples, slot
        )
        if screening.suspected and removed >= MOST_OF_THE_ANSWER:
            screened = awards
            full, full_agreements, more_calls = self._judge_text(
                question, criteria, full_text, item.answer, samples, slot
            )
            calls += more_calls
            both = (
                f"the screen removed {removed:.0%} of the answer; full text {_points_text(_total(full))} point(s), "
                f"without the removed text {_points_text(_total(screened))}"
            )
            if not screening.text.strip():
                # Nothing of the answer is left to score, and the full text may be the injection: a person decides.
                undecided = ReviewReason(kind=ReviewKind.INJECTION, detail=both + ": a person decides")
                awards = {c.id: CriterionAward(points=None, reason=undecided) for c in criteria}
            elif _lower(full, screened):
                awards, agreements = full, full_agreements
            agreements = [min(a, LOW_CONFIDENCE) for a in agreements]
            said = both + ("" if not screening.text.strip() else ": the lower stands")
            reasons.append(ReviewReason(kind=ReviewKind.INJECTION, detail=said))
        for criterion in criteria:
            award = awards[criterion.id]
            if award.points is None:
                reasons.append((award.reason or NOT_JUDGED).under(f"{criterion.id}: unscored: "))
            elif award.reason is not None:
                reasons.append(award.reason.under(f"{criterion.id}: "))
        score_confidence = confidence([c.points for c in criteria], agreements)
        threshold = self.settings.review_below(self.mode)
        if score_confidence < threshold:
            below = f"confidence {score_confidence:.2f} below {threshold:g}"
            reasons.append(ReviewReason(kind=ReviewKind.LOW_CONFIDENCE, detail=below))
        judgment = ItemJudgment(
            **base,
            awards=awards,
            confidence=score_confidence,
            needs_review=bool(reasons),
            review_reasons=reasons,
            injection_suspected=screening.suspected,
            calls=calls,
        )
        explain = self.settings.explain == "always" or (self.settings.explain == "review" and judgment.needs_review)
        return self.explain(question, item, judgment) if explain and self.mode == "distribution" else judgment

    def explain(self, question: Question, item: Item, judgment: ItemJudgment) -> ItemJudgment:
        """Add a quoted piece of evidence and a short rationale to each judged award, for the person reading it.

        A generated verdict per criterion (the criterion mode's prompt), asked only for its evidence and
        rationale: the points stay those of the distribution. A failed call leaves the award as it was.
        """
        screened = self.settings.screen_injections
        text = screen(item.answer, intent=self.intent).text if screened else canonical(item.answer)
        rubric_sha = self._question_sha(question)
        awards = dict(judgment.awards)
        for criterion in judged_criteria(question):
            award = awards.get(criterion.id)
            if award is None or award.points is None:
                continue
            record = _Record()
            spec = self._spec(question, criterion, "criterion")
            parsed = self._call(
                spec, rubric_sha=rubric_sha, answer=text, raw_answer=item.answer, sample=0,
                temperature=self.settings.temperature, record=record,
            )  # fmt: skip
            if parsed is None:
                continue
            checked = check_verdict(criterion, parsed, text)
            awards[criterion.id] = award.model_copy(
                update={
                    "evidence": checked.evidence,
                    "evidence_verified": checked.verified,
                    "rationale": checked.rationale,
                }
            )
        self.stats.add(explained=1)
        return judgment.model_copy(update={"awards": awards})

    def judge_items(
        self,
        pairs: list[tuple[Question, Item]],
        *,
        samples: int | None = None,
        on_item: Callable[[ItemJudgment], None] | None = None,
    ) -> list[ItemJudgment]:
        """Judge many items, `concurrency` at a time (at most one per server slot); results in input order.

        The calls in flight at once are for different questions wherever there are enough questions, and
        one question's items follow each other on one lane. On the embedded server each lane has a slot of
        its own (`id_slot`), so a question's long rubric prefix is computed once per lane (restored from an
        earlier round where one saved it), never again for a call that another lane's question displaced.
        `on_item` is told each item as it is judged (the round's progress).
        """
        by_question: dict[str, list[int]] = {}
        for i, (question, _) in enumerate(pairs):
            by_question.setdefault(question.id, []).append(i)
        lanes = self.settings.concurrency
        if self.slots:  # an unpinned call could land on a pinned slot between its call and its prefix save
            lanes = min(lanes, self.slots)
        splits = max(1, -(-lanes // max(len(by_question), 1)))  # fewer questions than lanes: share them out
        chunks: deque[list[int]] = deque()
        for indices in by_question.values():
            size = -(-len(indices) // splits)
            chunks.extend(indices[k : k + size] for k in range(0, len(indices), size))
        results: list[ItemJudgment | None] = [None] * len(pairs)

        def lane(number: int) -> None:
            slot = number if self.slots else None
            while True:
                try:
                    chunk = chunks.popleft()
                except IndexError:
                    return
                for i in chunk:
                    results[i] = judgment = self.judge_item(*pairs[i], samples=samples, slot=slot)
                    if on_item is not None:
                        on_item(judgment)

        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="judge") as pool:
            for future in [pool.submit(lane, n) for n in range(min(lanes, len(chunks)))]:
                future.result()
        return [r for r in results if r is not None]


_EMPTY = ReviewReason(kind=ReviewKind.OTHER, detail="empty answer")
"""Why an empty answer's criteria get 0 (no review: there is nothing to read)."""
MOST_OF_THE_ANSWER = 0.5
"""Share of an answer the screen may remove before the full text is judged as well (a paired check)."""
LOW_CONFIDENCE = 0.25
"""The confidence of an item whose screened and full texts were both judged: a person decides."""


def _lower(first: dict[str, CriterionAward], second: dict[str, CriterionAward]) -> bool:
    """Whether `first` totals fewer points than `second` (an unscored set is never the lower)."""
    a, b = _total(first), _total(second)
    return a is not None and (b is None or a < b)


def _total(awards: dict[str, CriterionAward]) -> float | None:
    points = [a.points for a in awards.values()]
    return None if any(p is None for p in points) else sum(p for p in points if p is not None)


def _points_text(points: float | None) -> str:
    return "unscored" if points is None else f"{points:g}"


def _joined_sha(shas: list[str]) -> str:
    return hashlib.sha256("".join(shas).encode()).hexdigest()


def _is_loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


@contextlib.contextmanager
def open_judge(
    settings: JudgeSettings,
    *,
    extra_body: dict[str, Any] | None = None,
    backend: ChatBackend | None = None,
    exemplars: Mapping[str, list[Exemplar]] | None = None,
) -> Iterator[Judge]:
    """Open a Judge on the configured endpoint, or on the embedded llama-server (started on the first
    cache miss, stopped on exit).

    `backend`: a round's shared embedded server (`embedded_backend`), used and left running. Calls to an
    endpoint (GRADEFLOW_JUDGE_BASE_URL) wait out its outages up to the settings' budget (`PatientChat`);
    the embedded server's own calls are supervised inside LocalChat. `settings` come from the edge (the CLI,
    the flow): nothing in the judge reads the environment. `exemplars`: graded answers per question id, shown
    in the distribution prompts (Judge.exemplars).
    """
    if backend is not None:
        yield Judge(backend, settings, exemplars=exemplars)
        return
    if settings.provider and settings.provider != "local":
        yield Judge(_patient(_langchain_backend(settings), settings), settings, exemplars=exemplars)
        return
    if settings.base_url:
        if not settings.model:
            raise JudgeConfigError(
                f"GRADEFLOW_JUDGE_BASE_URL is {settings.base_url}: set GRADEFLOW_JUDGE_MODEL too"
            )
        key = settings.api_key.get_secret_value() if settings.api_key else None
        if key is None and not _is_loopback(settings.base_url):
            raise JudgeConfigError(
                f"no API key for {settings.base_url}: set GRADEFLOW_JUDGE_API_KEY or OPENAI_API_KEY"
            )
        chat = OpenAIChat(
            base_url=settings.base_url, model=settings.model, api_key=key or "none",
            timeout_s=settings.timeout_s, max_retries=settings.max_retries, extra_body=extra_body,
            max_in_flight=settings.concurrency,
        )  # fmt: skip
        yield Judge(_patient(chat, settings), settings, exemplars=exemplars)
        return
    local = _local_backend(settings, extra_body)
    with sigterm_as_exit():
        try:
            yield Judge(local, settings, exemplars=exemplars)
        finally:
            local.close()


def _patient(backend: ChatBackend, settings: JudgeSettings) -> ChatBackend:
    """An endpoint's backend whose calls wait out its outages (the process's Patience for that endpoint)."""
    if not settings.base_url:
        return backend
    return PatientChat(backend, patience_for(settings.base_url, settings.outage_budget_s))


def _langchain_backend(settings: JudgeSettings) -> ChatBackend:
    """A provider's chat model through LangChain (GRADEFLOW_JUDGE_PROVIDER=provider:model)."""
    from pipeline.judge._langchain import LangChainChat  # an optional extra: imported only when asked for

    key = settings.api_key.get_secret_value() if settings.api_key else None
    loopback = bool(settings.base_url) and _is_loopback(settings.base_url or "")
    assert settings.provider is not None
    try:
        return LangChainChat(
            settings.provider, base_url=settings.base_url, api_key=key or ("none" if loopback else None),
            timeout_s=settings.timeout_s, max_retries=settings.max_retries, max_in_flight=settings.concurrency,
            grammar=loopback,
        )  # fmt: skip
    except ValueError as error:
        raise JudgeConfigError(f"GRADEFLOW_JUDGE_PROVIDER: {error}") from None


def _local_backend(settings: JudgeSettings, extra_body: dict[str, Any] | None = None) -> LocalChat:
    """The embedded server, asked through the openai SDK, or through LangChain when the provider is "local"."""
    if settings.provider == "local":
        from pipeline.judge._langchain import EmbeddedLangChain

        return EmbeddedLangChain(settings)
    return LocalChat(settings, extra_body=extra_body)


@contextlib.contextmanager
def embedded_backend(settings: JudgeSettings) -> Iterator[LocalChat]:
    """The embedded server for a round's judges to share (`open_judge(..., backend=...)`): started on the
    first cache miss of any of them, so a round whose items are all cached never loads the model, and
    stopped when the block ends.
    """
    backend = _local_backend(settings)
    with sigterm_as_exit():
        try:
            yield backend
        finally:
            backend.close()
