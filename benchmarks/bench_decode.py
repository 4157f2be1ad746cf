"""Decode speed of the explanation pass against llama-bench on the same build, model and threads.

    .venv/bin/python benchmarks/bench_decode.py [--threads 1 2] [--items 4]

For each thread count: llama-bench's token generation rate (tg64) and prompt rates (pp16/64/512), then the
embedded llama-server started as a round starts it, asked for the explanation of a few demo-round items
(the criterion prompt with its JSON-schema grammar, as `Judge.explain` asks), and the server's own
`timings.predicted_per_second` of each reply, with and without the grammar. Prints one JSON object and
writes it to benchmarks/results/decode.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

import httpx
from bench_judge import round_pairs

from pipeline.judge import JudgeSettings, judged_criteria, local_server
from pipeline.judge._local import MODEL_FILE, server_binary
from pipeline.judge._prompts import build_prompt
from pipeline.judge._schema import criterion_model, local_grammar, response_schema

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def llama_bench(threads: int, settings: JudgeSettings) -> dict[str, float]:
    """llama-bench's prompt rates (pp16, pp64, pp512: a judge call's few new tokens evaluate far slower per
    token than a long prompt) and tg64 (tokens/s) for the embedded model on `threads` threads.
    """
    binary = server_binary(settings).parent / "llama-bench"
    model = settings.local_model_file or settings.local_model_dir / MODEL_FILE
    env = {**os.environ, "LD_LIBRARY_PATH": str(binary.parent)}
    out = subprocess.run(
        [str(binary), "-m", str(model), "-t", str(threads), "-p", "16,64,512", "-n", "64", "-r", "2", "-o", "json"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    rates = {}
    for test in json.loads(out):
        name = f"pp{test['n_prompt']}" if test["n_prompt"] else "tg64"
        rates[name] = round(float(test["avg_ts"]), 1)
    return rates


def explanation_requests(items: int) -> list[dict]:
    """The explanation pass's requests for the first judged items of the demo round (criterion prompts)."""
    requests = []
    for question, item in round_pairs(ROOT / "eval_sets" / "ai-engineer-mid" / "rounds" / "demo"):
        criterion = judged_criteria(question)[0]
        schema = local_grammar(response_schema(criterion_model(criterion, verdict=True)), max_chars=40)
        prompt = build_prompt(question, [(criterion, None)], mode="criterion", schema=schema)
        requests.append({"messages": prompt.messages(item.answer), "schema": schema})
        if len(requests) == items:
            break
    return requests


def decode_rates(base_url: str, requests: list[dict], *, grammar: bool) -> list[float]:
    """The server's generated tokens per second for each request (temperature 0, up to 192 tokens)."""
    rates = []
    for request in requests:
        body = {"messages": request["messages"], "temperature": 0.0, "max_tokens": 192, "cache_prompt": False}
        if grammar:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "judgment",
                                       "schema": request["schema"], "strict": True}}  # fmt: skip
        reply = httpx.post(f"{base_url}/chat/completions", json=body, timeout=600).json()
        rates.append(round(float(reply["timings"]["predicted_per_second"]), 1))
    return rates


def main() -> None:
    """Run llama-bench and the server's explanation replies for each thread count; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--items", type=int, default=4)
    args = parser.parse_args()
    requests = explanation_requests(args.items)
    figures: dict[str, object] = {"items": len(requests), "load_average_1min": os.getloadavg()[0]}
    for threads in args.threads:
        settings = JudgeSettings(local_threads=threads, local_parallel=1, prefix_states=False)
        bench = llama_bench(threads, settings)
        with local_server(settings) as server:
            with_grammar = decode_rates(server.base_url, requests, grammar=True)
            without = decode_rates(server.base_url, requests, grammar=False)
        figures[f"threads_{threads}"] = {
            "llama_bench": bench,
            "server_decode_with_grammar": with_grammar,
            "server_decode_without_grammar": without,
            "median_with_grammar": statistics.median(with_grammar),
            "median_without_grammar": statistics.median(without),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "decode.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
