"""Loading a rubric file into a validated `Exam`, with errors that name the file and the field."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rubric_schema._models import Exam, Question


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
    except ValidationError as error:
        problems = [(_location(e["loc"], data), e["msg"]) for e in error.errors()]
        raise RubricError(source, problems) from None


def load_exam(path: str | Path) -> Exam:
    """Read a YAML or JSON rubric and validate it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RubricError(path, [("", f"cannot read the file: {error}")]) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise RubricError(path, [("", f"not valid {path.suffix.lstrip('.') or 'YAML'}: {error}")]) from None
    if not isinstance(data, dict):
        raise RubricError(path, [("", "expected a mapping at the top of the file")])
    return parse_exam(data, source=path)


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
