"""Score the demo round with the deterministic stub judge from a source tree, or compare two such runs.

A refactoring that must not change behaviour is checked by scoring the demo round before and after it
(each from its own source tree, e.g. a `git archive` of each commit) and comparing the tables, less what
differs between any two runs (timestamps, latencies) or trees (the tree's folder in source_file):

    .venv/bin/python benchmarks/demo_tables.py score --src /tmp/before --out /tmp/demo-before
    .venv/bin/python benchmarks/demo_tables.py score --src /tmp/after --out /tmp/demo-after \
        --exec-cache /tmp/demo-before/cache
    .venv/bin/python benchmarks/demo_tables.py compare /tmp/demo-before /tmp/demo-after

`--exec-cache` starts the second run from the first one's code-run cache: a code run is cached by its
task and the exact code, so a hit means both trees ran the same code, and the tables then hold the same
timings too. The judge cache starts empty in each run, so every judge call is made again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
TABLES = ("submissions", "item_scores", "criterion_scores", "judge_calls", "executor_runs")
VOLATILE = {"scored_at", "latency_ms"}
"""Columns that differ between any two runs of the same code."""


def score(src: Path, out: Path, exec_cache: Path | None) -> int:
    """Score `src`'s demo round with the stub judge into `out/tables` (caches and Prefect home under `out`)."""
    sys.path.insert(0, str(REPO / "tests" / "support"))
    from stub_judge import StubJudgeServer

    (out / "prefect").mkdir(parents=True, exist_ok=True)
    if exec_cache is not None:
        shutil.copytree(exec_cache, out / "cache")
    main = "gradeflow_cli" if (src / "gradeflow_cli").is_dir() else "pipeline.cli"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADEFLOW_", "PREFECT_"))}
    with StubJudgeServer() as stub:
        env |= {
            "GRADEFLOW_JUDGE_BASE_URL": stub.base_url,
            "GRADEFLOW_JUDGE_MODEL": "stub",
            "GRADEFLOW_JUDGE_CACHE_DIR": str(out / "judge-cache"),
            "GRADEFLOW_CACHE_DIR": str(out / "cache"),
            "PREFECT_HOME": str(out / "prefect"),
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "900",
            "PYTHONPATH": str(src),
        }
        command = [
            sys.executable, "-c", f"import sys; from {main} import main; sys.argv[0] = 'gradeflow'; main()",
            "score", str(src / "eval_sets/ai-engineer-mid/rounds/demo"), "--out", str(out / "tables"),
            "--judge", "openai",
        ]  # fmt: skip
        done = subprocess.run(command, env=env, cwd=src, capture_output=True, text=True)
    print(done.stdout[-2000:], done.stderr[-2000:], sep="\n")
    return done.returncode


def rows(out: Path, table: str) -> list[dict]:
    """A table's rows less the volatile columns, source files relative to their tree, in a stable order."""
    data = pq.read_table(next((out / "tables" / table).glob("round_id=*/part-0.parquet")))
    kept = data.drop_columns([c for c in data.column_names if c in VOLATILE]).to_pylist()
    for row in kept:
        if row.get("source_file"):
            row["source_file"] = row["source_file"].split("/eval_sets/", 1)[-1]
    return sorted(kept, key=lambda row: tuple(str(v) for v in row.values()))


def compare(before: Path, after: Path) -> int:
    """Print each table's row count and whether it is identical; exit 1 on the first difference."""
    differ = 0
    for table in TABLES:
        old, new = rows(before, table), rows(after, table)
        same = old == new
        print(f"{table}: {len(old)} rows before, {len(new)} after: {'identical' if same else 'DIFFERENT'}")
        if not same:
            differ = 1
            for a, b in zip(old, new, strict=False):
                if a != b:
                    print("  first difference:", {k: (a.get(k), b.get(k)) for k in a if a.get(k) != b.get(k)})
                    break
    return differ


def main() -> None:
    """`score` a source tree's demo round, or `compare` two runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("score")
    run.add_argument("--src", type=Path, default=REPO)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--exec-cache", type=Path)
    diff = sub.add_parser("compare")
    diff.add_argument("before", type=Path)
    diff.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "score":
        sys.exit(score(args.src.resolve(), args.out.resolve(), args.exec_cache))
    sys.exit(compare(args.before, args.after))


if __name__ == "__main__":
    main()
