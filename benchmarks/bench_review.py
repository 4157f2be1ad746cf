"""Item page latency of the review station on a 10,000-item round (issue 12 target: ≤ 100 ms).

A round of 500 submissions × 20 questions is written and scored by the real grading code with the tests'
fake judge (tests/review/review_rounds.py), every item flagged for review; the station runs as
`gradeflow review` in its own process (uvicorn), and one logged-in client on loopback fetches item pages
of random items, the queue page and `/next`, one request at a time. Times are wall-clock per request
as the client sees them, after a warm-up.

    .venv/bin/python benchmarks/bench_review.py --submissions 500 --questions 20 --requests 300
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).parents[1]
sys.path.insert(0, str(REPO / "tests" / "review"))


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1),
        "over_100_ms": sum(1 for s in ordered if s > 0.1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def main() -> None:
    """Build the round, start the station, time the pages, print JSON."""
    from review_client import ReviewerClient
    from review_rounds import build
    from review_server import StationProcess

    from pipeline.review import add_reviewer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        rnd = build(Path(tmp), submissions=args.submissions, questions=args.questions, flag_all=True)
        built_s = time.perf_counter() - started
        token = add_reviewer(rnd.out / "reviewers.yaml", "bench")
        station = StationProcess(rnd.out, rnd.round_dir)
        started = time.perf_counter()
        station.start(timeout_s=300)
        start_s = time.perf_counter() - started
        try:
            with httpx.Client(base_url=station.url, timeout=30) as client:
                reviewer = ReviewerClient(client)
                reviewer.login(token)
                items = client.get("/healthz").json()["items"]  # the round's size: for a reviewer only
                rng = random.Random(args.seed)
                keys = [f"/item/s{rng.randrange(args.submissions):05d}/{q}" for q in
                        rng.choices(rnd.question_ids, k=args.requests + 20)]
                for path in keys[:20]:  # warm-up: templates compiled, SQLite pages cached
                    assert client.get(path).status_code == 200
                item_times = []
                for path in keys[20:]:
                    began = time.perf_counter()
                    response = client.get(path)
                    item_times.append(time.perf_counter() - began)
                    assert response.status_code == 200 and 'id="grade-form"' in response.text
                queue_times, next_times = [], []
                for _ in range(30):
                    began = time.perf_counter()
                    assert client.get("/").status_code == 200
                    queue_times.append(time.perf_counter() - began)
                    began = time.perf_counter()
                    assert client.get("/next", follow_redirects=False).status_code == 303
                    next_times.append(time.perf_counter() - began)
        finally:
            station.stop()
    print(json.dumps({
        "items": items,
        "round_build_s": round(built_s, 1),
        "station_start_s": round(start_s, 1),
        "item_page": _percentiles(item_times),
        "queue_page": _percentiles(queue_times),
        "next": _percentiles(next_times),
    }, indent=2))


if __name__ == "__main__":
    main()
