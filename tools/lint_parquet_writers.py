"""`make lint`: nothing outside pipeline.store writes parquet, so every table goes through one writer.

The store owns the schemas, the round lock's partition swap and the atomic rename; a second writer
elsewhere would bypass all three. This scans the product's packages for the calls that write parquet
(pyarrow's writers, pandas' `to_parquet`, DuckDB's `COPY … TO`) and names each one outside the store.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

PACKAGES = ("rubric_schema", "pipeline", "executors", "flows", "gradeflow_cli", "benchmarks")
STORE = Path("pipeline/store")
WRITERS = {"write_table", "write_to_dataset", "write_dataset", "write_metadata", "ParquetWriter", "to_parquet"}
COPY_TO = re.compile(r"\bcopy\b.+\bto\b", re.IGNORECASE | re.DOTALL)


def findings(root: Path) -> list[str]:
    """`file:line: what` for every parquet write outside pipeline/store under `root`."""
    out = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if relative.is_relative_to(STORE):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                name = _called(node)
                if name in WRITERS:
                    out.append(f"{relative}:{node.lineno}: {name}() writes parquet outside pipeline.store")
                elif _copy_to_parquet(node):
                    out.append(f"{relative}:{node.lineno}: COPY … TO parquet outside pipeline.store")
    return out


def _called(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else None


def _copy_to_parquet(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(COPY_TO.search(node.value)) and "parquet" in node.value.lower()
    return False


if __name__ == "__main__":
    from _lint_main import lint_main  # the sibling module: tools/ is on sys.path when this runs as a script

    sys.exit(lint_main(findings))
