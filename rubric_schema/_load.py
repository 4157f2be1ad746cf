"""Loading a rubric file into a validated `Exam`, with errors that name the file and the field."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rubric_schema._models import Exam, Question

MAX_RUBRIC_BYTES = 10_000_000
"""A rubric is tens of kB; a bigger file is refused before it is parsed."""
MAX_NESTING = 200
"""Deepest nesting of brackets or indentation the rubric parser is handed (the seed's is under 20)."""


class RubricError(Exception):
    """A rubric file could not be read or is not a valid exam; `problems` lists (path, reason)."""

    def __init__(self, file: Path, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems
        lines = [f"{file}: {path or '<top>'}: {reason}" for path, reason in problems]
        super().__init__("\n".join(lines))


def _location(loc: tuple[int | str, ...], data: Any) -> str:
    """Turn pydantic's loc into a path that names list items by their id where they have one."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            node = node[key]
            item_id = node.get("id") if isinstance(node, dict) else None
            parts.append(f"[{key}]" if item_id is None else f"[{key}](id={item_id})")
            continue
        if isinstance(node, dict) and key in node:
            node = node[key]
        else:
            node = None
        parts.append(f".{key}" if parts else str(key))
    return "".join(parts)


def parse_exam(data: Any, *, source: Path) -> Exam:
    """Validate already-parsed rubric data read from `source`: named in errors, and the folder that the
    exam's `code_tasks_module` is relative to.
    """
    try:
        return Exam.model_validate(data, context={"rubric_dir": Path(source).parent})
    except RecursionError:
        raise RubricError(source, [("", "nested too deeply to validate")]) from None
    except ValidationError as error:
        problems = [(_location(e["loc"], data), e["msg"]) for e in error.errors()]
        raise RubricError(source, problems) from None


def load_exam(path: str | Path) -> Exam:
    """Read a YAML or JSON rubric and validate it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_RUBRIC_BYTES:
            raise RubricError(path, [("", f"file is {size:,} bytes, over the limit of {MAX_RUBRIC_BYTES:,}")])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RubricError(path, [("", f"cannot read the file: {error}")]) from None
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise RubricError(path, [("", f"nested {depth:,} levels deep, over the limit of {MAX_NESTING}")])
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise RubricError(path, [("", f"not valid {path.suffix.lstrip('.') or 'YAML'}: {error}")]) from None
    except RecursionError:
        raise RubricError(path, [("", "nested too deeply to parse")]) from None
    if not isinstance(data, dict):
        raise RubricError(path, [("", "expected a mapping at the top of the file")])
    return parse_exam(data, source=path)


def _nesting(text: str) -> int:
    """A cheap upper bound on how deep the text nests: open brackets (quoted text included, which only
    over-counts) or leading spaces, whichever is deeper; linear, so hostile input cannot recurse here.
    """
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", text):
        depth = max(0, depth + (1 if bracket in "[{" else -1))
        deepest = max(deepest, depth)
    indent = max((len(line) - len(line.lstrip(" ")) for line in text.splitlines() if line.strip()), default=0)
    return max(deepest, indent // 2)


def _sha(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def exam_sha(exam: Exam) -> str:
    """Content hash of the validated rubric: equal rubrics hash equal, whatever the file's formatting."""
    return _sha(exam.model_dump(mode="json"))


def question_sha(question: Question) -> str:
    """Content hash of one question: the judge cache key, so editing one question re-judges only it."""
    return _sha(question.model_dump(mode="json"))


def exam_json_schema() -> dict[str, Any]:
    """JSON Schema of a rubric file, for editors and other tools."""
    return Exam.model_json_schema()
