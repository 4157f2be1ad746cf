"""How busy the embedded judge server is kept during a real round (issue 5 item 7; target >= 95 %).

Starts the embedded llama-server as the flow would, scores a round through it with the user's judge and
code caches (empty on a fresh machine: every item is then a real model call; the calls that were made are
in the output), and polls llama-server's /slots endpoint every 100 ms. Busy fraction = the
share of polls, between the first and the last busy poll, in which at least one slot was processing;
slot occupancy = the mean share of slots processing.

    .venv/bin/python benchmarks/bench_judge_busy.py eval_sets/ai-engineer-mid/rounds/demo --out out/demo
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import httpx

QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "ERROR",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def poll_slots(base_url: str, stop: threading.Event, samples: list[tuple[float, int, int]]) -> None:
    """Record (time, slots processing, slots) every 100 ms until stopped."""
    root = base_url.removesuffix("/v1")
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            try:
                slots = client.get(f"{root}/slots").json()
                busy = sum(1 for s in slots if s.get("is_processing"))
                samples.append((time.monotonic(), busy, len(slots)))
            except (httpx.HTTPError, ValueError):
                pass
            stop.wait(0.1)


def subset_round(round_dir: Path, names: list[str]) -> Path:
    """A copy of the round with only the named submission files (the rubric path made absolute)."""
    import yaml

    target = Path(tempfile.mkdtemp(prefix="gradeflow-subset-"))
    config = yaml.safe_load((round_dir / "round.yaml").read_text(encoding="utf-8"))
    config["exam"] = str((round_dir / config["exam"]).resolve())
    (target / "round.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    (target / "submissions").mkdir()
    for name in names:
        shutil.copy(round_dir / "submissions" / name, target / "submissions" / name)
    return target


def main() -> None:
    """Score the round through the embedded server while polling its slots; print one JSON line."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("round_dir", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="Where the round's tables go.")
    parser.add_argument("--only", nargs="+", metavar="FILE", help="Score only these submission files of the round.")
    args = parser.parse_args()
    if args.only:
        args.round_dir = subset_round(args.round_dir, args.only)
    os.environ.update(QUIET)
    from flows.score_round import run_round
    from pipeline.judge import JudgeSettings, local_server

    with local_server(JudgeSettings(base_url=None)) as server:
        os.environ.update({"GRADEFLOW_JUDGE_BASE_URL": server.base_url, "GRADEFLOW_JUDGE_MODEL": server.model})
        samples: list[tuple[float, int, int]] = []
        stop = threading.Event()
        poller = threading.Thread(target=poll_slots, args=(server.base_url, stop, samples), daemon=True)
        poller.start()
        started = time.monotonic()
        summary = run_round(args.round_dir, args.out, judge="openai")
        wall_s = time.monotonic() - started
        stop.set()
        poller.join()
    busy_times = [t for t, busy, _ in samples if busy]
    window = [s for s in samples if busy_times and busy_times[0] <= s[0] <= busy_times[-1]]
    busy_fraction = sum(1 for _, busy, _ in window if busy) / len(window) if window else 0.0
    occupancy = sum(busy / slots for _, busy, slots in window if slots) / len(window) if window else 0.0
    print(
        json.dumps(
            {
                "round": str(args.round_dir),
                "submissions": summary.n_submissions,
                "judge_calls": summary.judge_calls,
                "judge_cache_hits": summary.judge_cache_hits,
                "judge_errors": summary.judge_errors,
                "wall_s": round(wall_s, 1),
                "s_per_model_call": round(wall_s / max(summary.judge_calls - summary.judge_cache_hits, 1), 2),
                "polls": len(window),
                "busy_fraction": round(busy_fraction, 3),
                "slot_occupancy": round(occupancy, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
