"""`make lint`: settings are read from the environment at the edge only, and handed down.

The edge is `gradeflow_cli` (the commands) and `flows` (the round job, `score-new-rounds`): they build the
settings models once from `GRADEFLOW_*` and pass them on. Below them (the packages of the layer contract in
pyproject.toml other than those two) a module may name the models and read their fields, never build one
from the environment: no call of a pydantic-settings model (a `BaseSettings` subclass, found by scanning the
packages), nor one as a `default_factory`, and no `os.environ` / `os.getenv` read of a `GRADEFLOW_` key.
Plain models named like settings (`RoundSettings`, round.yaml's) read no environment and are not named.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

EDGE = ("gradeflow_cli", "flows")
"""Where settings are built from the environment."""
EDGE_NAMES = ", ".join(EDGE)
BELOW_THE_EDGE = ("rubric_schema", "pipeline", "executors")
"""The layer contract's root packages other than the edge (a test keeps the two lists in step)."""
PREFIX = "GRADEFLOW_"
ENV_READERS = {"get", "pop", "setdefault"}
"""os.environ methods that read a variable."""


def settings_classes(root: Path) -> set[str]:
    """Names of every class under `root`'s packages that derives from pydantic-settings' BaseSettings."""
    bases: dict[str, set[str]] = {}
    for package in (*BELOW_THE_EDGE, *EDGE):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(_parse(path)):
                if isinstance(node, ast.ClassDef):
                    bases.setdefault(node.name, set()).update(filter(None, map(_name, node.bases)))
    found = {"BaseSettings"}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return found - {"BaseSettings"}
        found |= more


def findings(root: Path) -> list[str]:
    """`file:line: what` for every settings model built, or GRADEFLOW_ variable read, below the edge."""
    classes = settings_classes(root)
    out = []
    for package in BELOW_THE_EDGE:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            tree = _parse(path)
            names = classes | _aliases(tree, classes)
            for node in ast.walk(tree):
                out += [f"{relative}:{line}: {what} below the edge ({EDGE_NAMES})" for line, what in _seen(node, names)]
    return out


def _seen(node: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    found = []
    if isinstance(node, ast.Call):
        called = _name(node.func)
        if called in names:
            found.append((node.lineno, f"{called}() reads the environment"))
        found += [
            (node.lineno, f"default_factory={_name(k.value)} reads the environment")
            for k in node.keywords
            if k.arg == "default_factory" and _name(k.value) in names
        ]
        key = _gradeflow_key(node.args[0]) if node.args else None
        if key and (_is_getenv(node.func) or _is_environ_method(node.func)):
            found.append((node.lineno, f"{_dotted(node.func)}({key!r}) reads the environment"))
    elif isinstance(node, ast.Subscript) and _is_environ(node.value):
        key = _gradeflow_key(node.slice)
        if key:
            found.append((node.lineno, f"os.environ[{key!r}] reads the environment"))
    elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
        key = _gradeflow_key(node.left)
        if key:
            found.append((node.lineno, f"{key!r} in os.environ reads the environment"))
    return found


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _aliases(tree: ast.Module, classes: set[str]) -> set[str]:
    """Local names a module gave settings classes (`from executors import ExecSettings as Limits`)."""
    return {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname and alias.name in classes
    }


def _name(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "…"


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ` (from os import environ)."""
    return _name(node) == "environ" and (isinstance(node, ast.Name) or _name(getattr(node, "value", None)) == "os")


def _is_environ_method(func: ast.AST) -> bool:
    return isinstance(func, ast.Attribute) and func.attr in ENV_READERS and _is_environ(func.value)


def _is_getenv(func: ast.AST) -> bool:
    return _name(func) == "getenv" and (isinstance(func, ast.Name) or _name(getattr(func, "value", None)) == "os")


def _gradeflow_key(node: ast.AST) -> str | None:
    """The variable's name when `node` names a GRADEFLOW_ one (a string, or an f-string starting so)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(PREFIX):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.startswith(PREFIX):
            return first.value + "…"
    return None


if __name__ == "__main__":
    from _lint_main import lint_main  # the sibling module: tools/ is on sys.path when this runs as a script

    sys.exit(lint_main(findings))
