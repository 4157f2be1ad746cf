"""Orchestration overhead of the scoring flow with an instant judge (issue 5 item 7).

Two rates, apart: items/s counts every item row written (missing answers too), judged answers/s only the
answers the judge had to judge. A run with any failed judge call or unscored item exits non-zero.

A stub OpenAI-compatible server (tests/support/stub_judge.py, in its own process) answers schema-valid
JSON at once, so what is measured is gradeflow + Prefect: ingest, judge client, checks, caches, scoring,
table writes. Submissions are the panel round's prose (code removed, so no sandbox runs), each made unique
so that nothing comes from the judge cache. Every configuration runs in a fresh process; the Prefect
temporary server is started by a warm-up flow first and its start-up is reported apart.

    .venv/bin/python benchmarks/bench_flow.py --submissions 1000 --batch-sizes 1 8 32
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).parents[1]
PANEL = REPO / "eval_sets" / "ai-engineer-mid" / "rounds" / "panel"
sys.path.insert(0, str(REPO / "tests" / "support"))

QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "ERROR",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def make_round(directory: Path, n: int, seed: int = 7) -> None:
    """Write a round of n text-only submissions built from the panel round's markdown answers."""
    sources = [p.read_text(encoding="utf-8") for p in sorted((PANEL / "submissions").glob("*.md"))]
    fence = re.compile(r"```.*?```", re.S)
    sources = [fence.sub("", s) for s in sources]
    rng = random.Random(seed)
    (directory / "submissions").mkdir(parents=True)
    rubric = (REPO / "eval_sets" / "ai-engineer-mid" / "rubric.yaml").resolve()
    (directory / "round.yaml").write_text(f"round_id: bench\nexam: {rubric}\n", encoding="utf-8")
    for i in range(n):
        text = rng.choice(sources)
        # A unique line under every heading keeps answers distinct, so the judge cache never answers.
        text = re.sub(r"^(#+ .*)$", rf"\g<1>\n（考生 {i} 的作答）", text, flags=re.M)
        (directory / "submissions" / f"s{i:05d}.md").write_text(text, encoding="utf-8")


def _serve(port_queue: multiprocessing.Queue) -> None:
    from stub_judge import StubJudgeServer

    server = StubJudgeServer()
    port_queue.put(server.base_url)
    server.serve_forever()


def run_one(n: int, batch_size: int, workers: int) -> dict:
    """One configuration, in this process: returns wall times, items/s and peak memory."""
    os.environ.update(QUIET)
    queue: multiprocessing.Queue = multiprocessing.Queue()
    stub = multiprocessing.Process(target=_serve, args=(queue,), daemon=True)
    stub.start()
    base_url = queue.get(timeout=30)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ.update(
            {
                "GRADEFLOW_JUDGE_BASE_URL": base_url,
                "GRADEFLOW_JUDGE_MODEL": "stub",
                "GRADEFLOW_JUDGE_CACHE_DIR": str(tmp_path / "judge"),
                "GRADEFLOW_JUDGE_CONCURRENCY": "4",
                "GRADEFLOW_CACHE_DIR": str(tmp_path / "cache"),
                "GRADEFLOW_BATCH_SIZE": str(batch_size),
                "GRADEFLOW_WORKERS": str(workers),
                "PREFECT_HOME": str(tmp_path / "prefect"),
            }
        )
        make_round(tmp_path / "round", n)
        from prefect import flow

        from flows.score_round import run_round

        @flow
        def warm_up() -> None:
            """Start Prefect's temporary server before the clock starts."""

        started = time.perf_counter()
        warm_up()
        server_start_s = time.perf_counter() - started
        started = time.perf_counter()
        summary = run_round(tmp_path / "round", tmp_path / "out", judge="openai")
        wall_s = time.perf_counter() - started
        items, judged, unscored = _counts(tmp_path / "round", tmp_path / "out")
    stub.terminate()
    if summary.judge_errors or unscored or not summary.complete:
        raise SystemExit(
            f"the judge failed: {summary.judge_errors} failed call(s), {unscored} unscored item(s); "
            "a rate with failures in it measures nothing"
        )
    return {
        "submissions": n,
        "batch_size": batch_size,
        "workers": workers,
        "items": items,
        "judged_answers": judged,
        "judge_calls": summary.judge_calls,
        "server_start_s": round(server_start_s, 2),
        "wall_s": round(wall_s, 2),
        "items_per_s": round(items / wall_s, 1),
        "judged_answers_per_s": round(judged / wall_s, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _counts(round_dir: Path, out: Path) -> tuple[int, int, int]:
    """Items written, answers the judge had to judge (present, on a question with prose criteria), and
    items without points (a failed judge call), read back from the tables.
    """
    from pipeline.grading import judged_questions
    from pipeline.rounds import load_round
    from pipeline.store import read_table

    judged_ids = judged_questions(load_round(round_dir).exam)
    rows = read_table(out, "item_scores").to_pylist()
    judged = sum(1 for r in rows if r["kind"] != "missing" and r["question_id"] in judged_ids)
    unscored = sum(1 for r in rows if r["kind"] != "missing" and r["raw_points"] is None)
    return len(rows), judged, unscored


def main() -> None:
    """Run each batch size in a fresh process and print one JSON line per configuration."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.submissions, args.batch_sizes[0], args.workers)))
        return
    print(
        f"# {args.submissions} submissions x 18 items, {os.cpu_count()} cores, stub judge in another process"
    )
    failed = False
    for batch_size in args.batch_sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", "--submissions", str(args.submissions),
             "--batch-sizes", str(batch_size), "--workers", str(args.workers)],
            capture_output=True, text=True, cwd=REPO, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            print(f"batch size {batch_size}: failed\n{out.stderr[-2000:]}")
            failed = True
            continue
        print(out.stdout.strip().splitlines()[-1])
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
