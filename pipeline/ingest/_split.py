"""Splitting a submission file into one item per question, prose and code apart.

A file that cannot be read as a submission is rejected with a reason naming it; the caller records
the rejection and goes on with the round. A file's name is its identity: nothing inside a file can
take another file's submission id.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from charset_normalizer import from_bytes
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MAX_BYTES = 1_000_000
"""Submissions above this size are rejected: an exam answer sheet is a few tens of kB."""

SUBMISSION_SUFFIXES = (".md", ".markdown", ".txt", ".json", ".jsonl")

MAX_JSON_DEPTH = 64
"""Deepest bracket nesting read from JSON: a submission record is two levels deep; deeper is hostile."""
MAX_FRONT_MATTER_CHARS = 16_000
"""Front matter holds a few ids; a longer block is not front matter and is rejected."""
JSONL_MAX_FILE_FACTOR = 1000
"""A JSONL file may be this many times `max_bytes` in all (each line is capped at `max_bytes` itself)."""
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_CHAOS_MARGIN = 0.05
"""A guessed encoding is confident when every other reading of the bytes is this much more garbled."""


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
    notes: list[str] = Field(default_factory=list)
    """What a reviewer should check about how the file was read (an encoding guessed with low confidence)."""


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


def _decode(raw: bytes, source: Path | str, max_bytes: int) -> tuple[str, str | None]:
    """The text of a file and, when its encoding was only guessed with low confidence, a note saying so."""
    if len(raw) > max_bytes:
        raise SubmissionRejected(source, f"file is {len(raw):,} bytes, over the limit of {max_bytes:,}")
    if not raw.strip():
        raise SubmissionRejected(source, "file is empty")
    text, note = _text(raw, source)
    if not text.strip():
        raise SubmissionRejected(source, "file is empty")
    return text, note


def _text(raw: bytes, source: Path | str) -> tuple[str, str | None]:
    """Decode by byte order mark, else as UTF-8, else by charset-normalizer's best reading, noted when other
    readings that give another text are about as clean (a guess, not a detection).
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding).lstrip("\ufeff"), None
            except UnicodeDecodeError:
                reason = f"file starts with a {encoding} byte order mark but is not {encoding}"
                raise SubmissionRejected(source, reason) from None
    if b"\x00" in raw[:8192]:
        raise SubmissionRejected(source, "file is binary (NUL bytes), not a text submission")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    matches = list(from_bytes(raw))
    if not matches:
        raise SubmissionRejected(source, "file is not text in any encoding that could be detected")
    cleanest = min(matches, key=lambda m: m.chaos)
    close = [m for m in matches if m.chaos <= cleanest.chaos + _CHAOS_MARGIN]
    # The exams are Chinese: among equally clean readings GB18030 (the legacy encoding of their candidates) wins.
    best = next((m for m in close if "gb18030" in m.could_be_from_charset), cleanest)
    text = str(best)
    rivals = sorted({m.encoding for m in close if str(m) != text})
    # Unnoted only where nothing else reads it differently, or GB18030 is also the cleanest reading: a
    # preference that overrode a cleaner reading (a Big5 or cp125x sheet) is a guess a person checks.
    if not rivals or (best is cleanest and "gb18030" in best.could_be_from_charset):
        return text, None
    return text, (
        f"encoding guessed as {best.encoding} with low confidence ({', '.join(rivals)} read it differently): "
        "check the text"
    )


def _json_depth(text: str) -> int:
    """Deepest bracket nesting of JSON text, strings skipped; linear, so deep input cannot recurse."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", re.sub(r'"(?:[^"\\]|\\.)*"', "", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _load_json(text: str, source: Path | str, prefix: str = "") -> Any:
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise SubmissionRejected(
            source, f"{prefix}JSON nested {depth:,} levels deep, over the limit of {MAX_JSON_DEPTH}"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SubmissionRejected(source, f"{prefix}not valid JSON: {error}") from None


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


def _front_matter(text: str, source: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end == -1:
        return {}, text
    if end > MAX_FRONT_MATTER_CHARS:
        raise SubmissionRejected(
            source, f"front matter is {end:,} characters, over the limit of {MAX_FRONT_MATTER_CHARS:,}"
        )
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}, text
    except RecursionError:
        raise SubmissionRejected(source, "front matter is nested too deeply to read") from None
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
    notes: list[str],
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
        notes=notes,
    )


def _claimed_id(claimed: Any, own: str, source: str, owners: Mapping[str, list[str]]) -> str:
    """The id a file's content may state is its own: anything else would let one file take another's slot.
    `owners` (id → files named so) lets the rejection name the file whose id was claimed.
    """
    if claimed is None or claimed == "" or str(claimed) == own:
        return own
    owner = ", ".join(owners.get(str(claimed), []))
    raise SubmissionRejected(
        source,
        f"claims submission_id {str(claimed)!r} but its file name makes it {own!r}: the file name is the id"
        + (f"; {owner} is that file" if owner else ""),
    )


def split_markdown(
    text: str,
    *,
    source: str,
    submission_id: str,
    question_ids: list[str],
    notes: list[str] | None = None,
    owners: Mapping[str, list[str]] | None = None,
) -> Submission:
    """Split a markdown (or plain text) answer sheet; front matter may set the candidate id, and may repeat
    the submission id (the file name) but not change it.
    """
    meta, body = _front_matter(text, source)
    preamble, parts = _sections(body, set(question_ids))
    submission_id = _claimed_id(meta.get("submission_id"), submission_id, source, owners or {})
    return _build(
        submission_id=submission_id,
        candidate_id=str(meta.get("candidate_id", submission_id)),
        source=source,
        answers=parts,
        question_ids=question_ids,
        unmatched=preamble,
        notes=notes or [],
    )


def _from_record(
    record: Any, *, source: str, submission_id: str, question_ids: list[str], prefix: str = ""
) -> Submission:
    if not isinstance(record, dict) or not isinstance(record.get("answers"), dict):
        raise SubmissionRejected(source, f'{prefix}expected an object with an "answers" mapping of question id to text')
    known = set(question_ids)
    answers = record["answers"]
    bad = [qid for qid, value in answers.items() if not isinstance(value, str)]
    if bad:
        raise SubmissionRejected(source, f"{prefix}answers must be text; not text for {', '.join(map(str, bad))}")
    unmatched = "\n\n".join(f"[{qid}] {value}" for qid, value in answers.items() if str(qid) not in known)
    return _build(
        submission_id=submission_id,
        candidate_id=str(record.get("candidate_id") or submission_id),
        source=source,
        answers=[(str(qid), value) for qid, value in answers.items() if str(qid) in known],
        question_ids=question_ids,
        unmatched=unmatched,
        notes=[],
    )


def _jsonl_lines(path: Path, max_bytes: int) -> Iterable[tuple[int, bytes | None]]:
    """(line number, bytes) of a JSONL file read one line at a time; None for a line over `max_bytes`,
    which is skipped without being held in memory.
    """
    with path.open("rb") as stream:
        number = 0
        while True:
            line = stream.readline(max_bytes + 1)
            if not line:
                return
            number += 1
            if len(line) > max_bytes and not line.endswith(b"\n"):
                while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass
                yield number, None
                continue
            yield number, line


def _split_jsonl(
    path: Path, file_id: str, question_ids: list[str], max_bytes: int
) -> tuple[list[Submission], list[RejectedFile]]:
    """Each line is its own candidate: a broken line rejects that line only. Line ids come from inside
    the file (one file holds many candidates); the round checks they claim no other file's id.
    """
    limit = max_bytes * JSONL_MAX_FILE_FACTOR
    size = path.stat().st_size
    if size > limit:
        raise SubmissionRejected(path, f"file is {size:,} bytes, over the JSONL limit of {limit:,}")
    submissions: list[Submission] = []
    rejected: list[RejectedFile] = []
    lines: dict[str, list[int]] = {}
    for number, raw in _jsonl_lines(path, max_bytes):
        source = f"{path}:{number}"
        prefix = f"line {number}: "
        try:
            if raw is None:
                raise SubmissionRejected(source, f"{prefix}over the limit of {max_bytes:,} bytes per line")
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise SubmissionRejected(source, f"{prefix}not UTF-8 (JSON lines are UTF-8)") from None
            if not line.strip():
                continue
            record = _load_json(line, source, prefix)
            claimed = record.get("submission_id") if isinstance(record, dict) else None
            submission_id = str(claimed or f"{file_id}-{number}")
            submission = _from_record(
                record, source=source, submission_id=submission_id, question_ids=question_ids, prefix=prefix
            )
        except SubmissionRejected as error:
            rejected.append(RejectedFile(source_file=error.source_file, reason=error.reason))
            continue
        lines.setdefault(submission.submission_id, []).append(number)
        submissions.append(submission)
    if not submissions and not rejected:
        raise SubmissionRejected(path, "file is empty")
    shared = {sid: numbers for sid, numbers in lines.items() if len(numbers) > 1}
    for submission in submissions:
        if submission.submission_id in shared:
            others = ", ".join(str(n) for n in shared[submission.submission_id])
            reason = f"lines {others} share submission_id {submission.submission_id!r}"
            rejected.append(RejectedFile(source_file=submission.source_file, reason=reason))
    return [s for s in submissions if s.submission_id not in shared], rejected


def read_file(
    path: str | Path,
    question_ids: list[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    submission_id: str | None = None,
    owners: Mapping[str, list[str]] | None = None,
) -> tuple[list[Submission], list[RejectedFile]]:
    """Read one submission file into submissions and rejections; never raises: whatever goes wrong inside
    one file (a parser's own error included) is that file's rejection, not the round's.

    `submission_id` is the file's identity (its path inside the round), by default its stem; `owners` maps
    the round's ids to the files named so, for rejections that name whose id a file claimed.
    """
    path = Path(path)
    try:
        return _read(path, submission_id or path.stem, question_ids, max_bytes, owners or {})
    except SubmissionRejected as error:
        return [], [RejectedFile(source_file=error.source_file, reason=error.reason)]
    except RecursionError:
        return [], [RejectedFile(source_file=str(path), reason="nested too deeply to read")]
    except Exception as error:  # noqa: BLE001 - one file's failure must never stop the round
        reason = f"could not be read: {type(error).__name__}: {error}"[:500]
        return [], [RejectedFile(source_file=str(path), reason=reason)]


def _read(
    path: Path, file_id: str, question_ids: list[str], max_bytes: int, owners: Mapping[str, list[str]]
) -> tuple[list[Submission], list[RejectedFile]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            return _split_jsonl(path, file_id, question_ids, max_bytes)
        raw = path.read_bytes()
    except OSError as error:
        raise SubmissionRejected(path, f"cannot read: {error.strerror or error}") from None
    text, note = _decode(raw, path, max_bytes)
    notes = [note] if note else []
    source = str(path)
    if suffix == ".json":
        record = _load_json(text, path)
        submission = _from_record(record, source=source, submission_id=file_id, question_ids=question_ids)
        _claimed_id(record.get("submission_id"), file_id, source, owners)
        return [submission.model_copy(update={"notes": notes})], []
    split = split_markdown(
        text, source=source, submission_id=file_id, question_ids=question_ids, notes=notes, owners=owners
    )
    return [split], []


def split_file(path: str | Path, question_ids: list[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Submission]:
    """Read one submission file (markdown, text, JSON or JSONL) for a tool that wants all or nothing;
    raises SubmissionRejected with the first problem (a round uses `read_file`, line by line).
    """
    submissions, rejected = read_file(path, question_ids, max_bytes=max_bytes)
    if rejected:
        raise SubmissionRejected(rejected[0].source_file, rejected[0].reason)
    return submissions


def discover(directory: str | Path) -> list[Path]:
    """Every file under a round directory, nested folders included, in a stable order; hidden files and
    folders are skipped, symlinked folders are not followed.
    """
    directory = Path(directory)
    found: list[Path] = []
    for root, folders, files in os.walk(directory):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        found += [Path(root) / name for name in files if not name.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(directory).parts)


def file_id(directory: Path, path: Path) -> str:
    """A file's submission id: its path under the round without the suffix (`batch2/x` for
    submissions/batch2/x.md), so two folders' `x.md` stay two candidates.
    """
    return path.relative_to(directory).with_suffix("").as_posix()


def split_round(
    directory: str | Path, question_ids: list[str], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Submission], list[RejectedFile]]:
    """Split every file of a round; bad files are returned as rejections. A file named `x` owns id `x`:
    a JSONL line claiming it is rejected naming that file, and where two files or lines claim one id
    that no single file owns, every claimant is rejected with the others named (name order wins nothing).
    """
    directory = Path(directory)
    rejected: list[RejectedFile] = []
    paths = discover(directory)
    owners: dict[str, list[str]] = {}
    for path in paths:
        if path.suffix.lower() in SUBMISSION_SUFFIXES and path.suffix.lower() != ".jsonl":
            owners.setdefault(file_id(directory, path), []).append(str(path))
    read: list[Submission] = []
    for path in paths:
        if path.suffix.lower() not in SUBMISSION_SUFFIXES:
            rejected.append(RejectedFile(source_file=str(path), reason=f"unsupported file type {path.suffix!r}"))
            continue
        own = file_id(directory, path)
        submissions, bad = read_file(path, question_ids, max_bytes=max_bytes, submission_id=own, owners=owners)
        read += submissions
        rejected += bad
    claimants: dict[str, list[str]] = {}
    for submission in read:
        claimants.setdefault(submission.submission_id, []).append(submission.source_file)
    accepted: list[Submission] = []
    for submission in read:
        sid = submission.source_file
        owner = owners.get(submission.submission_id, [])
        if len(owner) == 1 and sid not in owner:
            reason = f"submission_id {submission.submission_id!r} belongs to the file {owner[0]}"
        elif len(claimants[submission.submission_id]) > 1 and not (len(owner) == 1 and sid in owner):
            others = [s for s in claimants[submission.submission_id] if s != sid]
            reason = f"submission_id {submission.submission_id!r} is also claimed by {', '.join(others)}"
        else:
            accepted.append(submission)
            continue
        rejected.append(RejectedFile(source_file=sid, reason=reason))
    return accepted, rejected
