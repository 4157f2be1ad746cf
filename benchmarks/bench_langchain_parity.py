"""The demo round judged through LangChain and through the openai SDK on one embedded server: same points?

    .venv/bin/python benchmarks/bench_langchain_parity.py [--round eval_sets/ai-engineer-mid/rounds/demo]

One llama-server with one slot (no cross-slot batching), the distribution judge, explanations off, a
fresh judge cache per path: first every judged item of the round through `OpenAIChat` (what
`--judge local` uses), then through `LangChainChat` ("openai:<model>" via `init_chat_model`, what
`--judge langchain` uses). Writes benchmarks/results/langchain_parity.json: per criterion both awards,
and how many points, expected points and item totals agree.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench_judge import RESULTS, ROOT, machine, round_pairs

from pipeline.judge import Judge, JudgeSettings, OpenAIChat, local_server
from pipeline.judge._langchain import LangChainChat


def main() -> None:
    """Judge the round both ways and write the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round", default=str(ROOT / "eval_sets" / "ai-engineer-mid" / "rounds" / "demo"))
    args = parser.parse_args()
    pairs = round_pairs(Path(args.round))
    with local_server(JudgeSettings(local_parallel=1)) as server, tempfile.TemporaryDirectory() as cache:
        settings = JudgeSettings(
            base_url=server.base_url, model=server.model, mode="distribution", explain="never", concurrency=1
        )
        common = {"base_url": server.base_url, "api_key": "local", "timeout_s": 600, "max_retries": 0}
        backends = {
            "local": OpenAIChat(model=server.model, grammar=True, **common),
            "langchain": LangChainChat(f"openai:{server.model}", grammar=True, **common),
        }
        judged, seconds = {}, {}
        for name, backend in backends.items():
            judge = Judge(backend, settings.model_copy(update={"cache_dir": Path(cache) / name}))
            started = time.perf_counter()
            judged[name] = judge.judge_items(pairs)
            seconds[name] = round(time.perf_counter() - started, 1)
            assert judge.stats.calls > 0 and judge.stats.failures == 0 and not judge.stats.fallback, judge.stats
    criteria, items_equal = [], 0
    for (question, item), ours, theirs in zip(pairs, judged["local"], judged["langchain"], strict=True):
        items_equal += sum(a.points or 0 for a in ours.awards.values()) == sum(
            a.points or 0 for a in theirs.awards.values()
        )
        for criterion_id, award in ours.awards.items():
            other = theirs.awards[criterion_id]
            criteria.append(
                {
                    "item": f"{item.submission_id}/{question.id}", "criterion": criterion_id,
                    "local": [award.points, award.expected_points], "langchain": [other.points, other.expected_points],
                }
            )  # fmt: skip
    differences = [abs(c["local"][1] - c["langchain"][1]) for c in criteria]
    summary = {
        "round": args.round,
        "items": len(pairs),
        "criteria": len(criteria),
        "criteria_same_points": sum(c["local"][0] == c["langchain"][0] for c in criteria),
        "items_same_total": items_equal,
        "max_expected_points_difference": round(max(differences), 4),
        "seconds": seconds,
        "machine": machine(),
        "rows": criteria,
    }
    (RESULTS / "langchain_parity.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
