"""How busy the embedded judge server is kept during a real round (issue 5 item 7; target >= 95 %).

Starts the embedded llama-server as the flow would, scores a round through it with the user's judge and
code caches (empty on a fresh machine: every item is then a real model call; the calls that were made are
in the output), and polls llama-server's /slots endpoint every 100 ms. Busy fraction = the
share of polls, between the first and the last busy poll, in which at least one slot was processing;
slot occupancy = the mean share of slots processing.

    .venv/bin/python benchmarks/bench_judge_busy.py eval_sets/ai-engineer-mid/rounds/demo --out out/demo

`--attach` measures a round someone else runs (e.g. `make demo`): it finds the llama-server running, or
waits for the next to start, polls it the same way until it exits, and prints the busy fraction and occupancy.

    make demo & .venv/bin/python benchmarks/bench_judge_busy.py --attach
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
                if isinstance(slots, list):  # while loading, the server answers {"error": ...}
                    busy = sum(1 for s in slots if s.get("is_processing"))
                    samples.append((time.monotonic(), busy, len(slots)))
            except (httpx.HTTPError, ValueError):
                pass
            stop.wait(0.1)


def wait_for_server(timeout_s: float) -> tuple[int, str]:
    """The pid and base URL of the llama-server running now, or of the next to start (by its command line)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if argv and argv[0].endswith("llama-server") and "--port" in argv:
                return int(entry.name), f"http://127.0.0.1:{argv[argv.index('--port') + 1]}/v1"
        time.sleep(0.5)
    raise SystemExit(f"no llama-server started within {timeout_s:g} s")


def attach(timeout_s: float) -> dict:
    """Poll the next llama-server from its start until its process exits."""
    pid, base_url = wait_for_server(timeout_s)
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()
    poller = threading.Thread(target=poll_slots, args=(base_url, stop, samples), daemon=True)
    poller.start()
    started = time.monotonic()
    while Path(f"/proc/{pid}").exists():
        time.sleep(0.5)
    stop.set()
    poller.join()
    return {"server": base_url, "server_lifetime_s": round(time.monotonic() - started, 1), **busy(samples)}


def busy(samples: list[tuple[float, int, int]]) -> dict:
    """Busy fraction and slot occupancy between the first and the last busy poll."""
    busy_times = [t for t, n_busy, _ in samples if n_busy]
    window = [s for s in samples if busy_times and busy_times[0] <= s[0] <= busy_times[-1]]
    busy_fraction = sum(1 for _, n_busy, _ in window if n_busy) / len(window) if window else 0.0
    occupancy = sum(n_busy / slots for _, n_busy, slots in window if slots) / len(window) if window else 0.0
    return {"polls": len(window), "busy_fraction": round(busy_fraction, 3), "slot_occupancy": round(occupancy, 3)}


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
    parser.add_argument("round_dir", type=Path, nargs="?")
    parser.add_argument("--out", type=Path, help="Where the round's tables go.")
    parser.add_argument("--only", nargs="+", metavar="FILE", help="Score only these submission files of the round.")
    parser.add_argument("--attach", action="store_true", help="Measure the next llama-server someone else starts.")
    parser.add_argument("--wait", type=float, default=900, help="How long --attach waits for a server (s).")
    args = parser.parse_args()
    if args.attach:
        print(json.dumps(attach(args.wait)))
        return
    if args.round_dir is None or args.out is None:
        parser.error("ROUND_DIR and --out are needed unless --attach")
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
                **busy(samples),
            }
        )
    )


if __name__ == "__main__":
    main()
