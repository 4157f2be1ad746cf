"""Issue 13 item 7: property-based fuzzing of ingest and rubric loading (hypothesis).

Ingest: rounds of random files — Markdown with random headings in many styles and languages, JSON and
JSONL of every shape, empty, binary, oversized and undecodable files — must never crash, and every file
must come back as submissions or as a rejection with a reason. Rubric loading: random rubric-like data
and random bytes must give an Exam or a RubricError, nothing else.

Each example is a whole round: 8-12 random contents, each written under all eight names (.md, .markdown,
.txt, .json, .jsonl, .MD, .yaml, no suffix), some in nested folders, so every reader meets every shape, and
a run sees over 10,000 files while hypothesis draws a bounded number of examples (`FUZZ_EXAMPLES`, small
enough for `make test`). Hostile nesting (issue 21): JSON, JSONL lines, front matter and rubrics nested
10,000 to 60,000 levels deep must be rejections, never a crash of the round.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest import SUBMISSION_SUFFIXES, split_round
from rubric_schema import Exam, RubricError, load_exam

FUZZ_EXAMPLES = 160
DEEP_EXAMPLES = 40
MIN_FILES = 10_000
MIN_DEPTH = 10_000
"""Hostile nesting starts here: far past Python's recursion limit, where an unbounded parser crashes."""
MAX_BYTES = 4_000
"""The size limit ingest is run with, so oversized files are cheap to make."""
IDS = ["1.1", "1.2", "10.1", "Q1", "Q10", "A.2", "os-q1", "7", "B"]

_SEEN = {"files": 0, "rubrics": 0, "deep": 0}

# Latin, CJK, Cyrillic, Arabic, emoji, combining marks, zero-width and control characters.
_ALPHABET = st.characters(
    codec="utf-8",
    categories=("L", "M", "N", "P", "S", "Zs", "Cc", "Cf"),
)
words = st.text(_ALPHABET, max_size=40)
heading_ids = st.one_of(st.sampled_from(IDS), st.sampled_from([i.lower() for i in IDS]), words)
markers = st.sampled_from(
    ["", "#", "## ", "### ", "**", "__", "Q", "Question ", "第", "题目", "Problem ", "   ", "> ", "- ", "1. "]
)
tails = st.sampled_from(["", ":", "：", ".", "、", ")", " - title", "**", " ##", "题", "倍", ".1", "x"])


@st.composite
def markdown(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["heading", "text", "fence", "front"]))
        if kind == "heading":
            lines.append(f"{draw(markers)}{draw(heading_ids)}{draw(tails)}")
        elif kind == "fence":
            fence = draw(st.sampled_from(["```", "~~~", "````"]))
            close = draw(st.sampled_from([fence, "", "```"]))
            lines += [f"{fence}{draw(st.sampled_from(['', 'python', 'c++', 'js']))}", draw(words), close]
        elif kind == "front":
            lines += ["---", f"submission_id: {draw(words)}", f"candidate_id: {draw(words)}", "---"]
        else:
            lines.append(draw(words))
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | words,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(words, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def json_records(draw: st.DrawFn) -> Any:
    answers = draw(st.dictionaries(heading_ids, st.one_of(words, markdown(), json_values), max_size=6))
    record: dict[str, Any] = {"answers": answers}
    for key in ("submission_id", "candidate_id"):
        if draw(st.booleans()):
            record[key] = draw(st.one_of(words, json_values))
    return draw(st.one_of(st.just(record), json_values))


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    """The bytes of one file: a Markdown sheet, JSON, JSONL, binary, empty, oversized or undecodable."""
    kind = draw(st.sampled_from(["markdown", "json", "jsonl", "binary", "empty", "huge", "undecodable"]))
    if kind == "markdown":
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "cp1252", "utf-16"]))
        return draw(markdown()).encode(encoding, "replace")
    if kind == "json":
        return json.dumps(draw(json_records()), ensure_ascii=draw(st.booleans())).encode()
    if kind == "jsonl":
        lines = [json.dumps(r) for r in draw(st.lists(json_records(), max_size=5))]
        return "\n".join(lines + draw(st.lists(words, max_size=2))).encode()
    if kind == "binary":
        return draw(st.binary(max_size=200))
    if kind == "empty":
        return draw(st.sampled_from([b"", b" ", b"\n\n", b"\t\r\n"]))
    if kind == "huge":
        return draw(markdown()).encode()[:200] + b"## 1.1\n" + b"x" * MAX_BYTES
    return b"## 1.1\n" + draw(st.binary(min_size=1, max_size=50)) + b"\xff\xfe\x80"


SUFFIXES = [*SUBMISSION_SUFFIXES, ".MD", ".yaml", ""]
"""Every content is written under each of these names: each reader (and the refusal of the rest) meets it."""


def check_round(folder: str, names: list[str], max_bytes: int) -> None:
    """Split the round; every file must be submissions or rejections with a reason, ids unique."""
    submissions, rejected = split_round(folder, IDS, max_bytes=max_bytes)
    ids = [s.submission_id for s in submissions]
    assert len(ids) == len(set(ids)), "two submissions share an id"
    for name in names:
        path = str(Path(folder) / name)
        mine = [s for s in submissions if s.source_file.split(":")[0] == path]
        refused = [r for r in rejected if r.source_file.split(":")[0] == path]
        assert mine or refused, f"{name} is neither a submission nor a rejection"
        assert all(r.reason.strip() for r in refused)
        for submission in mine:
            assert set(submission.items) | set(submission.missing) == set(IDS)
            assert all(item.text.strip() or item.code_blocks for item in submission.items.values())


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(round_contents=st.lists(contents(), min_size=8, max_size=12), nested=st.sampled_from(["", "b2/", "b2/x/"]))
def test_ingest_never_crashes_and_accounts_for_every_file(round_contents: list[bytes], nested: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        names = []
        for number, data in enumerate(round_contents):
            for suffix in SUFFIXES:
                names.append(f"{nested if number % 2 else ''}f{number}{suffix.replace('.', '_')}{suffix}")
                (Path(folder) / names[-1]).parent.mkdir(parents=True, exist_ok=True)
                (Path(folder) / names[-1]).write_bytes(data)
        check_round(folder, names, MAX_BYTES)
    _SEEN["files"] += len(names)


@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    """Brackets, braces or YAML flow collections nested MIN_DEPTH or more levels deep, closed or not."""
    depth = draw(st.integers(MIN_DEPTH, 6 * MIN_DEPTH))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ("[{", "}]"), ('{"answers":', "}")]))
    closed = draw(st.booleans())
    return opener * depth + (draw(st.sampled_from(["1", '"x"', "[]", "{}"])) + closer * depth if closed else "")


@st.composite
def deep_contents(draw: st.DrawFn) -> tuple[str, bytes]:
    """(suffix, bytes) of one deeply nested file: JSON, a JSONL line among good ones, or front matter."""
    deep = draw(deep_nesting())
    form = draw(st.sampled_from(["json", "jsonl", "front", "answers"]))
    if form == "json":
        return ".json", deep.encode()
    if form == "answers":
        return ".json", ('{"answers": {"1.1": ' + deep + "}}").encode()
    if form == "jsonl":
        good = json.dumps({"answers": {"1.1": "heap"}})
        return ".jsonl", "\n".join([good, deep, good]).encode()
    return draw(st.sampled_from([".md", ".txt"])), f"---\nsubmission_id: {deep}\n---\n## 1.1\nheap\n".encode()


@settings(max_examples=DEEP_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(files=st.lists(deep_contents(), min_size=1, max_size=4))
def test_deep_nesting_is_rejected_per_file_never_a_crash(files: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        names = [f"deep{number}{suffix}" for number, (suffix, _) in enumerate(files)] + ["honest.md"]
        for name, (_, data) in zip(names, files, strict=False):
            (Path(folder) / name).write_bytes(data)
        (Path(folder) / "honest.md").write_text("## 1.1\nheap", encoding="utf-8")
        check_round(folder, names, 1_000_000)
        assert "honest" in [s.submission_id for s in split_round(folder, IDS)[0]]
    _SEEN["deep"] += len(files)


def _valid_rubric() -> dict[str, Any]:
    question = {
        "id": "Q1",
        "title": "t",
        "prompt": "p",
        "points": 2,
        "criteria": [{"id": "c", "title": "c", "points": 2, "earns_points_for": "x"}],
    }
    return {
        "id": "e",
        "title": "e",
        "total_points": 2,
        "sections": [{"id": "s", "title": "s", "points": 2, "questions": [question]}],
    }


@st.composite
def rubric_data(draw: st.DrawFn) -> Any:
    """A valid rubric with a few random paths replaced by random values, or anything at all."""
    data = _valid_rubric()
    for _ in range(draw(st.integers(0, 4))):
        node: Any = data
        path = draw(st.lists(st.sampled_from(["sections", 0, "questions", "criteria", "id", "points"]), max_size=5))
        for key in path[:-1]:
            if isinstance(node, dict) and isinstance(key, str) and isinstance(node.get(key), (dict, list)):
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and node:
                node = node[0]
        value = draw(st.one_of(json_values, heading_ids))
        if isinstance(node, dict) and path:
            node[str(path[-1])] = value
        elif isinstance(node, list) and node:
            node[0] = value
    return draw(st.one_of(st.just(data), json_values))


@settings(max_examples=FUZZ_EXAMPLES * 3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    data=rubric_data(),
    form=st.sampled_from(["yaml", "json", "bytes", "deep-yaml", "deep-json"]),
    raw=st.binary(max_size=100),
    deep=deep_nesting(),
)
def test_rubric_loading_gives_an_exam_or_a_rubric_error(data: Any, form: str, raw: bytes, deep: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"rubric.{'json' if 'json' in form else 'yaml'}"
        if form == "yaml":
            path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        elif form == "json":
            path.write_text(json.dumps(data), encoding="utf-8")
        elif form.startswith("deep"):
            path.write_text(f"id: e\nsections: {deep}\n" if form == "deep-yaml" else deep, encoding="utf-8")
        else:
            path.write_bytes(raw)
        try:
            assert isinstance(load_exam(path), Exam)
        except RubricError as error:
            assert str(error).startswith(f"{path}: ")
    _SEEN["rubrics"] += 1


def test_the_fuzz_saw_enough_inputs() -> None:
    """Runs after the two above (file order): at least 10,000 fuzzed inputs in all, per run."""
    if _SEEN["files"] == 0:
        pytest.skip("run with the fuzz tests above")
    assert _SEEN["files"] + _SEEN["rubrics"] + _SEEN["deep"] >= MIN_FILES, _SEEN
    assert _SEEN["deep"] >= DEEP_EXAMPLES, _SEEN
