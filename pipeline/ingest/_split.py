"""Splitting a submission file into one item per question, prose and code apart.

A file that cannot be read as a submission is rejected with a reason naming it; the caller records
the rejection and goes on with the round.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MAX_BYTES = 1_000_000
"""Submissions above this size are rejected: an exam answer sheet is a few tens of kB."""

SUBMISSION_SUFFIXES = (".md", ".markdown", ".txt", ".json", ".jsonl")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CodeBlock(_Frozen):
    """A fenced code block from an answer."""

    language: str = ""
    code: str


class Item(_Frozen):
    """One answer to one question: the unit the judge and the executors work on."""

    submission_id: str
    question_id: str
    text: str
    """The prose of the answer, code blocks removed."""
    code_blocks: list[CodeBlock] = Field(default_factory=list)

    @property
    def kind(self) -> Literal["text", "code", "mixed"]:
        """Text, code or both, by what the answer actually holds."""
        has_text = bool(self.text.strip())
        if self.code_blocks and has_text:
            return "mixed"
        return "code" if self.code_blocks else "text"

    @property
    def code(self) -> str:
        """All code blocks joined, in order: what the executors run."""
        return "\n\n".join(block.code for block in self.code_blocks)

    @property
    def answer(self) -> str:
        """The whole answer as the judge sees it: prose, then the code fenced."""
        parts = [self.text.strip()] if self.text.strip() else []
        parts += [f"```{block.language}\n{block.code}\n```" for block in self.code_blocks]
        return "\n\n".join(parts)


class Submission(_Frozen):
    """A candidate's answer sheet, split."""

    submission_id: str
    candidate_id: str
    source_file: str
    items: dict[str, Item]
    missing: list[str] = Field(default_factory=list)
    """Questions of the exam with no answer: they score 0 with reason "no answer"."""
    duplicates: list[str] = Field(default_factory=list)
    """Questions answered more than once: the parts are joined in order and flagged."""
    unmatched_text: str = ""
    """Text that belongs to no question (before the first heading, or under unknown numbers)."""


class RejectedFile(_Frozen):
    """A file that is no submission; recorded in the round's results, never fatal."""

    source_file: str
    reason: str


class SubmissionRejected(Exception):
    """A submission file cannot be read; the message names the file and why."""

    def __init__(self, source: Path | str, reason: str):
        self.source_file = str(source)
        self.reason = reason
        super().__init__(f"{source}: {reason}")


# A question heading: optional markdown #'s or bold, an optional word (题目, Question, Q, 第), one of the
# exam's question ids (any case), then an end, a space or a separator. "2.1倍" in prose does not match, nor
# does "1.1.1" (a sub-heading, not question 1.1) or "Q10" for question Q1.
_HEADING_PREFIX = r"""^\s{0,3}(?P<hashes>\#{1,6}\s*)?(?P<bold>\*\*|__)?\s*
    (?P<word>(?:题目|问题|题|Question|Problem|Q)\s*[:：]?\s*)??(?P<di>第\s*)?"""
_HEADING_SUFFIX = r"""\s*(?:题)?\s*(?:\*\*|__)?
    (?=$|\s|[、:：)）\]—,，]|\*\*|[.．\-](?![A-Za-z0-9]))"""


@functools.lru_cache(maxsize=64)
def _heading(question_ids: tuple[str, ...]) -> re.Pattern[str]:
    """The heading pattern for one exam's ids, longest first so "Q10" is not read as "Q1"."""
    ids = "|".join(re.escape(i) for i in sorted(question_ids, key=len, reverse=True))
    return re.compile(f"{_HEADING_PREFIX}(?P<id>{ids}){_HEADING_SUFFIX}", re.VERBOSE | re.IGNORECASE)


def _needs_marker(question_id: str) -> bool:
    """A bare line may start with "1.1" or "Q1", but "1" or "A" only count after a #, bold or a word like
    "Question": otherwise every numbered list and every sentence opening with "A" would be a heading.
    """
    return question_id.isdigit() or not any(ch.isdigit() for ch in question_id)


_HEADING_TAIL = re.compile(r"\s*(?:\*\*|__|\s#+)?\s*$")
"""Closing bold or closing #'s at the end of a heading line."""
_FENCE = re.compile(r"^\s{0,3}(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+#.-]*)")


def _decode(raw: bytes, source: Path | str, max_bytes: int) -> str:
    if len(raw) > max_bytes:
        raise SubmissionRejected(source, f"file is {len(raw):,} bytes, over the limit of {max_bytes:,}")
    if not raw.strip():
        raise SubmissionRejected(source, "file is empty")
    if b"\x00" in raw[:8192]:
        raise SubmissionRejected(source, "file is binary (NUL bytes), not a text submission")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not text.strip():
            raise SubmissionRejected(source, "file is empty")
        return text
    raise SubmissionRejected(source, "file is neither UTF-8 nor GB18030 text")


def split_code(answer: str) -> tuple[str, list[CodeBlock]]:
    """Separate fenced code blocks from prose; an unclosed fence runs to the end."""
    prose: list[str] = []
    blocks: list[CodeBlock] = []
    fence: str | None = None
    language = ""
    code: list[str] = []
    for line in answer.splitlines():
        if fence is None:
            opening = _FENCE.match(line)
            if opening:
                fence, language, code = opening["fence"], opening["lang"].lower(), []
            else:
                prose.append(line)
        elif line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
            blocks.append(CodeBlock(language=language, code="\n".join(code)))
            fence = None
        else:
            code.append(line)
    if fence is not None:
        blocks.append(CodeBlock(language=language, code="\n".join(code)))
    blocks = [b for b in blocks if b.code.strip()]
    return "\n".join(prose).strip(), blocks


def _sections(text: str, question_ids: set[str]) -> tuple[str, list[tuple[str, str]]]:
    """Cut markdown at question headings (outside code fences); returns preamble and (id, body) pairs."""
    preamble: list[str] = []
    parts: list[tuple[str, list[str]]] = []
    in_fence: str | None = None
    by_folded = {i.casefold(): i for i in question_ids}
    pattern = _heading(tuple(sorted(question_ids)))
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence and in_fence is None:
            in_fence = fence["fence"][0]
        elif in_fence and line.strip().startswith(in_fence * 3):
            in_fence = None
        elif in_fence is None:
            heading = pattern.match(line) if question_ids else None
            question_id = by_folded[heading["id"].casefold()] if heading else ""
            marked = heading and (heading["hashes"] or heading["bold"] or heading["word"] or heading["di"])
            if heading and (marked or not _needs_marker(question_id)):
                # Separators go from the front only, so "1.1 用堆 O(n log k)" keeps its ")".
                rest = _HEADING_TAIL.sub("", line[heading.end() :].lstrip(" \t、:：.．)）]-—,，*#"))
                parts.append((question_id, [rest] if rest else []))
                continue
        (parts[-1][1] if parts else preamble).append(line)
    return "\n".join(preamble).strip(), [(qid, "\n".join(body).strip()) for qid, body in parts]


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end == -1:
        return {}, text
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}, text
    if not isinstance(meta, dict):
        return {}, text
    return meta, text[end + 4 :]


def _build(
    *,
    submission_id: str,
    candidate_id: str,
    source: str,
    answers: Iterable[tuple[str, str]],
    question_ids: list[str],
    unmatched: str,
) -> Submission:
    joined: dict[str, list[str]] = {}
    for qid, body in answers:
        joined.setdefault(qid, []).append(body)
    items: dict[str, Item] = {}
    for qid, bodies in joined.items():
        text, blocks = split_code("\n\n".join(b for b in bodies if b.strip()))
        if text or blocks:
            items[qid] = Item(submission_id=submission_id, question_id=qid, text=text, code_blocks=blocks)
    return Submission(
        submission_id=submission_id,
        candidate_id=candidate_id,
        source_file=source,
        items={qid: items[qid] for qid in question_ids if qid in items},
        missing=[qid for qid in question_ids if qid not in items],
        duplicates=sorted((qid for qid, bodies in joined.items() if len(bodies) > 1), key=question_ids.index),
        unmatched_text=unmatched,
    )


def split_markdown(text: str, *, source: str, submission_id: str, question_ids: list[str]) -> Submission:
    """Split a markdown (or plain text) answer sheet; front matter may set submission/candidate ids."""
    meta, body = _front_matter(text)
    preamble, parts = _sections(body, set(question_ids))
    submission_id = str(meta.get("submission_id", submission_id))
    return _build(
        submission_id=submission_id,
        candidate_id=str(meta.get("candidate_id", submission_id)),
        source=source,
        answers=parts,
        question_ids=question_ids,
        unmatched=preamble,
    )


def _from_record(record: Any, *, source: str, default_id: str, question_ids: list[str]) -> Submission:
    if not isinstance(record, dict) or not isinstance(record.get("answers"), dict):
        raise SubmissionRejected(
            source, 'expected an object with an "answers" mapping of question id to text'
        )
    known = set(question_ids)
    answers = record["answers"]
    bad = [qid for qid, value in answers.items() if not isinstance(value, str)]
    if bad:
        raise SubmissionRejected(source, f"answers must be text; not text for {', '.join(map(str, bad))}")
    submission_id = str(record.get("submission_id") or default_id)
    unmatched = "\n\n".join(f"[{qid}] {value}" for qid, value in answers.items() if str(qid) not in known)
    return _build(
        submission_id=submission_id,
        candidate_id=str(record.get("candidate_id") or submission_id),
        source=source,
        answers=[(str(qid), value) for qid, value in answers.items() if str(qid) in known],
        question_ids=question_ids,
        unmatched=unmatched,
    )


def split_file(
    path: str | Path, question_ids: list[str], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Submission]:
    """Read one submission file (markdown, text, JSON or JSONL); raises SubmissionRejected."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SubmissionRejected(path, f"cannot read: {error.strerror or error}") from None
    text = _decode(raw, path, max_bytes)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise SubmissionRejected(path, f"not valid JSON: {error}") from None
        return [_from_record(record, source=source, default_id=path.stem, question_ids=question_ids)]
    if suffix == ".jsonl":
        submissions = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise SubmissionRejected(path, f"line {number}: not valid JSON: {error}") from None
            default_id = f"{path.stem}-{number}"
            submissions.append(
                _from_record(
                    record, source=f"{source}:{number}", default_id=default_id, question_ids=question_ids
                )
            )
        ids = [s.submission_id for s in submissions]
        if len(set(ids)) != len(ids):
            raise SubmissionRejected(path, "two lines share one submission_id")
        return submissions
    return [split_markdown(text, source=source, submission_id=path.stem, question_ids=question_ids)]


def discover(directory: str | Path) -> list[Path]:
    """Submission files of a round directory in a stable order (hidden files skipped)."""
    directory = Path(directory)
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def split_round(
    directory: str | Path, question_ids: list[str], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Submission], list[RejectedFile]]:
    """Split every file of a round; bad files are returned as rejections, duplicated ids too."""
    submissions: list[Submission] = []
    rejected: list[RejectedFile] = []
    seen: dict[str, str] = {}
    for path in discover(directory):
        if path.suffix.lower() not in SUBMISSION_SUFFIXES:
            rejected.append(
                RejectedFile(source_file=str(path), reason=f"unsupported file type {path.suffix!r}")
            )
            continue
        try:
            split = split_file(path, question_ids, max_bytes=max_bytes)
        except SubmissionRejected as error:
            rejected.append(RejectedFile(source_file=error.source_file, reason=error.reason))
            continue
        for submission in split:
            earlier = seen.get(submission.submission_id)
            if earlier is not None:
                reason = f"submission_id {submission.submission_id!r} already used by {earlier}"
                rejected.append(RejectedFile(source_file=submission.source_file, reason=reason))
                continue
            seen[submission.submission_id] = submission.source_file
            submissions.append(submission)
    return submissions, rejected
