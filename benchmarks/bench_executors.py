"""Executor figures for docs/BENCHMARKS.md: sandbox overhead, answers per second (measured wall rates),
speed-ratio repeatability, complexity-exponent accuracy. Ratios are taken within one run of this script.
On a GPU machine the repeatability rows time the attention answers on the device (CUDA events).

    .venv/bin/python benchmarks/bench_executors.py [--answers 60] [--batches 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from executors import ExecSettings, ExecutorPool  # noqa: E402
from executors.sandbox import bwrap_command  # noqa: E402
from rubric_schema import load_exam  # noqa: E402

ANSWERS = ROOT / "tests" / "executors" / "answers"
TASKS = {t.id: t for t in load_exam(ROOT / "eval_sets" / "ai-engineer-mid" / "rubric.yaml").code_tasks}
SEED_MODULE = TASKS["topk"].module
"""The seed exam's code-task module: every pool here checks its tasks."""


def code(name: str) -> str:
    """Read one answer file of the tests."""
    return (ANSWERS / f"{name}.py").read_text(encoding="utf-8")


def median_seconds(command: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of a command run to completion."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def overhead(runs: int) -> list[str]:
    """Cold start with and without bubblewrap, pure Python and torch; the warm per-answer fixed cost."""
    settings = ExecSettings()
    rows = ["| what | without sandbox | in bubblewrap | overhead |", "|---|---|---|---|"]
    for label, snippet in (("python start", "pass"), ("python + import torch", "import torch")):
        bare = [sys.executable, "-c", snippet]
        sandboxed = bwrap_command(settings, uid=settings.uid_base + 998, torch=False, task_module=SEED_MODULE)
        sandboxed = sandboxed[: sandboxed.index("-m")] + ["-c", snippet]
        plain = median_seconds(bare, {"PATH": "/usr/bin:/bin"}, runs)
        boxed = median_seconds(sandboxed, {"PATH": os.environ.get("PATH", "")}, runs)
        rows.append(
            f"| {label} (median of {runs}) | {plain * 1e3:.0f} ms | {boxed * 1e3:.0f} ms | "
            f"{(boxed - plain) * 1e3:+.0f} ms |"
        )
    for label, torch in (
        ("warm worker start (checker ready)", False),
        ("warm worker start, torch preloaded", True),
    ):
        times = []
        for _ in range(max(2, runs // 2)):
            started = time.perf_counter()
            with ExecutorPool(settings, task_module=SEED_MODULE, torch=torch, workers=1) as pool:
                pool.start()
                times.append(time.perf_counter() - started)
        rows.append(f"| {label} | — | {statistics.median(times) * 1e3:.0f} ms | once per worker |")
    with ExecutorPool(settings, task_module=SEED_MODULE, torch=False, workers=1) as pool:
        broken = "raise SystemExit('does not load')"
        pool.run(TASKS["topk"], broken)
        fixed = statistics.median(pool.run(TASKS["topk"], broken).elapsed_s for _ in range(20))
    rows.append(
        f"| per answer in a warm sandbox: fork a runner, load, report, clean up | — | {fixed * 1e3:.1f} ms | "
        "per answer |"
    )
    return rows


def cpu_seconds() -> float:
    """CPU time of this process and every sandbox under it, runners already reaped included."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for process in me.children(recursive=True):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def throughput(n_answers: int, repeats: int) -> list[str]:
    """Pure-Python answers per second on all cores, warm workers (their start counted apart): wall rates.

    Each row is `repeats` batches of `n_answers` on one warm pool; the rate is answers over the wall time
    of a batch (median, and the slowest and fastest batch), with the load average beside it, since the
    machine may be shared. The CPU column is what each answer cost, not a rate.
    """
    mixes = {
        "topk": ["topk_heap", "topk_sort", "topk_quickselect", "topk_wrong_distinct"],
        "lis": ["lis_bisect", "lis_tails_as_sequence", "lis_length_only"],
        "union_find": ["uf_rank_compression", "uf_wrong"],
    }
    rows = [
        f"| task (answers cycled) | answers × batches | workers | wall per batch (median) "
        f"| answers/s (median; min–max of {repeats}) | CPU per answer | load average |",
        "|---|---|---|---|---|---|---|",
    ]
    settings = ExecSettings()
    for task_id, names in [*mixes.items(), ("all three", None)]:
        if names is None:
            jobs = [(TASKS[t], code(n)) for t, ns in mixes.items() for n in ns]
        else:
            jobs = [(TASKS[task_id], code(n)) for n in names]
        jobs = (jobs * math.ceil(n_answers / len(jobs)))[:n_answers]
        walls, cpus = [], []
        with ExecutorPool(settings, task_module=SEED_MODULE, torch=False) as pool:
            pool.start()
            for _ in range(repeats):
                cpu_before, started = cpu_seconds(), time.perf_counter()
                results = pool.map(jobs)
                walls.append(time.perf_counter() - started)
                cpus.append(cpu_seconds() - cpu_before)
                assert all(r.status in ("ok", "failed") for r in results), {r.reason for r in results}
        rates = sorted(len(jobs) / wall for wall in walls)
        rows.append(
            f"| {task_id} ({', '.join(names or ['mixed'])}) | {len(jobs)} × {repeats} | {settings.sandboxes()} | "
            f"{statistics.median(walls):.2f} s | **{statistics.median(rates):.1f}** "
            f"({rates[0]:.1f}–{rates[-1]:.1f}) | {statistics.median(cpus) / len(jobs) * 1e3:.0f} ms "
            f"| {os.getloadavg()[0]:.1f} |"
        )
    return rows


REPEATED = ("attention_torch", "attention_numpy", "attention_slow_loops")


def repeatability(runs: int, names: tuple[str, ...] = REPEATED) -> list[str]:
    """Speed ratio of the same answers over `runs` runs (each a fresh worker): spread around the median.

    The ratio is the check's: the largest size timed (512 on the CPU, 2048 on a GPU).
    """
    rows = ["| answer | device, n | ratio per run | median | max deviation from median |", "|---|---|---|---|---|"]
    for name in names:
        ratios, where = [], ""
        for _ in range(runs):
            with ExecutorPool(ExecSettings(), task_module=SEED_MODULE, torch=True, workers=1) as pool:
                result = pool.run(TASKS["attention"], code(name))
            assert result.status == "ok", result.reason
            largest = [t for t in result.tests if t.test_id.startswith("speed_")][-1]
            ratios.append(largest.speed_ratio)
            where = f"{result.device}, {largest.test_id.removeprefix('speed_n')}"
        middle = statistics.median(ratios)
        spread = max(abs(r - middle) for r in ratios) / middle
        rows.append(
            f"| {name} | {where} | {', '.join(f'{r:.2f}' for r in ratios)} | {middle:.2f} | {spread:.1%} |"
        )
    return rows


def accuracy(runs: int) -> list[str]:
    """Fit the exponent of reference solutions of known order (n log n: its slope over the sizes timed)."""
    nlogn = None  # expected slope computed from the sizes timed
    cases = [
        ("topk_quickselect", "topk", "O(n)", 1.0),
        ("topk_heap", "topk", "O(n log k), k = n/2", nlogn),
        ("topk_sort", "topk", "O(n log n)", nlogn),
        ("lis_bisect", "lis", "O(n log n)", nlogn),
        ("uf_rank_compression", "union_find", "O(n α(n))", 1.0),
        ("topk_quadratic", "topk", "O(n^2)", 2.0),
        ("lis_dp", "lis", "O(n^2)", 2.0),
        ("uf_quick_find", "union_find", "O(n^2)", 2.0),
    ]
    rows = [
        "| solution | order | expected exponent | fitted (per run) | worst error |",
        "|---|---|---|---|---|",
    ]
    worst_overall = 0.0
    with ExecutorPool(ExecSettings(), task_module=SEED_MODULE, torch=False) as pool:
        for name, task_id, order, expected in cases:
            results = [pool.run(TASKS[task_id], code(name)) for _ in range(runs)]
            if expected is None:
                sizes = [
                    int(t.test_id.removeprefix("time_n"))
                    for t in results[0].tests
                    if t.test_id.startswith("time_")
                ]
                expected = 1.0 + 1 / math.log(math.sqrt(min(sizes) * max(sizes)))
            fitted = [r.complexity_exponent for r in results]
            worst = max(abs(f - expected) for f in fitted)
            worst_overall = max(worst_overall, worst)
            rows.append(
                f"| {name} | {order} | {expected:.2f} | {', '.join(f'{f:.2f}' for f in fitted)} | "
                f"{worst:.2f} |"
            )
    rows.append(f"| **all** | | | | **{worst_overall:.2f}** (target ≤ 0.20) |")
    return rows


GPU_PROBES = {
    "runner memory as the kernel counts it": (
        "def relu_backward(grad_y, x):\n"
        "    rows = [l.split() for l in open('/proc/self/status') if l.startswith(('VmSize', 'VmData', 'VmRSS'))]\n"
        "    raise RuntimeError(', '.join(f'{r[0]} {int(r[1]) >> 10} MiB' for r in rows))\n"
    ),
    "an answer that takes 32 GiB of the card (its limit: 16 GiB)": (
        "import torch\n\ndef relu_backward(grad_y, x):\n"
        "    hog = torch.empty(32 << 30, dtype=torch.uint8, device=x.device)\n    return grad_y * (x > 0)\n"
    ),
    "an answer that takes 8 GiB of host memory": (
        "def relu_backward(grad_y, x):\n    hog = bytearray(8 << 30)\n    return grad_y * (x > 0)\n"
    ),
}


def gpu(runs: int) -> list[str]:
    """On a GPU: what one answer costs (a runner initialises CUDA after its fork), and the limits at work."""
    rows = ["| what | device | result |", "|---|---|---|"]
    with ExecutorPool(ExecSettings(), task_module=SEED_MODULE, torch=True, workers=1) as pool:
        pool.start()
        probe = pool.run(TASKS["relu_backward"], code("relu_backward_torch"))
        if probe.device != "cuda":
            return [f"no GPU here (tensor answers ran on {probe.device}): nothing to measure"]
        load_only = "raise SystemExit('stops at load')"
        for task_id in ("relu_backward", "topk"):
            pool.run(TASKS[task_id], load_only)
            times = [pool.run(TASKS[task_id], load_only).elapsed_s for _ in range(runs)]
            device = "cuda" if task_id == "relu_backward" else "cpu"
            rows.append(
                f"| per answer: fork, {'initialise CUDA, ' if device == 'cuda' else ''}load, report, clean up "
                f"(median of {runs}) | {device} | {statistics.median(times) * 1e3:.0f} ms |"
            )
        for label, answer in GPU_PROBES.items():
            result = pool.run(TASKS["relu_backward"], answer)
            said = result.reason if not result.tests else next((t.error for t in result.tests if t.error), "")
            rows.append(f"| {label} | {result.device} | {result.status}: {said[:160]} |")
    return rows


def main() -> None:
    """Print every table, with the machine and its load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=60, help="answers per throughput row")
    parser.add_argument("--batches", type=int, default=3, help="batches per throughput row")
    parser.add_argument("--repeat", nargs="*", default=list(REPEATED), help="answers timed for repeatability")
    parser.add_argument("--runs", type=int, default=5, help="runs for overhead medians and repeatability")
    parser.add_argument(
        "--only", nargs="*", choices=["overhead", "throughput", "repeatability", "accuracy", "gpu"]
    )
    args = parser.parse_args()
    bwrap = subprocess.run([shutil.which("bwrap") or "bwrap", "--version"], capture_output=True, text=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{bwrap.stdout.strip()}, load average at start {os.getloadavg()[0]:.1f}"
    )
    sections = {
        "overhead": ("Sandbox overhead", lambda: overhead(args.runs)),
        "throughput": ("Answers per second", lambda: throughput(args.answers, args.batches)),
        "repeatability": ("Speed-ratio repeatability", lambda: repeatability(args.runs, tuple(args.repeat))),
        "accuracy": ("Complexity-exponent accuracy", lambda: accuracy(3)),
        "gpu": ("GPU process model and limits", lambda: gpu(args.runs)),
    }
    for name in args.only or list(sections):
        title, measure = sections[name]
        print(f"\n### {title}\n", flush=True)
        print("\n".join(measure()), flush=True)
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
