"""Judge quality and cost on the embedded model, against human grades.

    .venv/bin/python benchmarks/bench_judge.py agreement --set mohler-cs-2011 --mode distribution --n 150
    .venv/bin/python benchmarks/bench_judge.py prompt-cache --set ads-zh --n 24
    .venv/bin/python benchmarks/bench_judge.py injection
    .venv/bin/python benchmarks/bench_judge.py prompt-tokens [--round eval_sets/ai-engineer-mid/rounds/demo]

`agreement` judges a fixed random sample (seed 0) of an eval set with a fresh judge cache, writes one
row per answer to benchmarks/results/judge_<set>_<mode>.jsonl (for calibration) and prints Pearson and
QWK against the human grades, seconds and tokens per judgment, then re-runs the sample on the warm
cache to time a cache hit. Agreement is reported on a fair footing: the judge against each grader
beside the graders against each other, and the judge against the graders' mean. In distribution mode
the unsnapped expected points are reported too; explanations are off (they never change points).
`prompt-cache` times the same items with llama-server's prompt cache on
and off. `injection` judges the injection test set with screening off and on.
`prompt-tokens` counts, without judging, the prompt tokens the server must evaluate for a round's
distribution calls in the judge's order (one slot that keeps its last prompt): the prompt layout in use
(every judged criterion of the question before the answer, the ask after it) against one criterion per
prompt before the answer (the layout before it), with the model's own chat template and tokenizer.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import psutil
import yaml
from scipy.stats import pearsonr
from sklearn.metrics import cohen_kappa_score

from pipeline.ingest import Item, split_file
from pipeline.judge import ItemJudgment, Judge, JudgeSettings, judged_criteria, local_server, open_judge, screen
from pipeline.judge._distribution import criterion_scale
from pipeline.judge._prompts import build_prompt
from pipeline.scoring import score_question
from rubric_schema import Exam, Question, load_exam

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> str:
    """Describe the machine the figures were measured on."""
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{psutil.cpu_count()} cores, {memory:.0f} GiB, {platform.machine()}, no GPU, shared with other jobs"
    )


def load_set(name: str) -> tuple[Exam, list[tuple[Question, Item]], dict[tuple[str, str], list[float]]]:
    """Load an eval set as the pipeline sees it: rubric, split submissions, human grades."""
    directory = ROOT / "eval_sets" / name
    exam = load_exam(directory / "rubric.yaml")
    question_ids = [q.id for q in exam.questions]
    pairs = []
    for path in sorted((directory / "submissions").iterdir()):
        for submission in split_file(path, question_ids):
            pairs += [(exam.question(qid), item) for qid, item in submission.items.items()]
    grades: dict[tuple[str, str], list[float]] = defaultdict(list)
    with (directory / "human_grades.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            grades[(row["submission_id"], row["question_id"])].append(float(row["points"]))
    return exam, [(q, i) for q, i in pairs if (i.submission_id, q.id) in grades], grades


def sample(
    pairs: list[tuple[Question, Item]], n: int, seed: int, questions: int | None = None
) -> list[tuple[Question, Item]]:
    """Draw a fixed random sample in set order (a question's items stay together for the prompt cache).

    With `questions`, the sample is shaped like a round: that many random questions, n / questions random
    answers of each (a round judges many answers per question, so the prompt prefix is shared).
    """
    rng = random.Random(seed)
    if questions is None:
        chosen = set(rng.sample(range(len(pairs)), min(n, len(pairs))))
        return [p for i, p in enumerate(pairs) if i in chosen]
    by_question: dict[str, list[int]] = defaultdict(list)
    for i, (question, _) in enumerate(pairs):
        by_question[question.id].append(i)
    picked_questions = rng.sample(sorted(by_question), min(questions, len(by_question)))
    chosen = set()
    for qid in picked_questions:
        chosen.update(rng.sample(by_question[qid], min(n // len(picked_questions), len(by_question[qid]))))
    return [p for i, p in enumerate(pairs) if i in chosen]


def qwk(human: list[float], judged: list[float], maxima: list[float]) -> float:
    """Quadratic weighted kappa on a 0..10 grid (each score scaled by its question's max)."""
    scale = [round(10 * h / m) for h, m in zip(human, maxima, strict=True)]
    ours = [round(10 * j / m) for j, m in zip(judged, maxima, strict=True)]
    return float(cohen_kappa_score(scale, ours, weights="quadratic", labels=list(range(11))))


def run_agreement(args: argparse.Namespace) -> None:
    """Judge a fixed sample of the set on a fresh cache, then again on the warm one; print the summary."""
    exam, pairs, grades = load_set(args.set)
    chosen = sample(pairs, args.n, args.seed, args.questions)
    with tempfile.TemporaryDirectory() as cache:
        settings = JudgeSettings(
            cache_dir=Path(cache), mode=args.mode, concurrency=args.parallel, local_parallel=args.parallel,
            explain="never", key_points=args.key_points, prompts_dir=args.prompts_dir, prefix_states=False,
        )
        with open_judge(settings) as judge:
            started = time.perf_counter()
            judgments = judge.judge_items(chosen)
            wall = time.perf_counter() - started
            stats = dict(judge.stats.__dict__)
            started = time.perf_counter()
            calls_before = judge.stats.calls
            judge.judge_items(chosen)
            warm = time.perf_counter() - started
            warm_calls = judge.stats.calls - calls_before
    rows = _rows(chosen, judgments, grades)
    out = RESULTS / f"judge_{args.set}_{args.mode}{args.tag}.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    scored = [r for r in rows if r["raw_points"] is not None]
    human = [statistics.mean(r["human"]) for r in scored]
    judged = [r["raw_points"] for r in scored]
    maxima = [r["max_points"] for r in scored]
    ratio_h = [h / m for h, m in zip(human, maxima, strict=True)]
    ratio_j = [j / m for j, m in zip(judged, maxima, strict=True)]
    summary = {
        "set": args.set,
        "mode": args.mode,
        "n": len(rows),
        "unscored": len(rows) - len(scored),
        "needs_review": sum(r["needs_review"] for r in rows),
        "pearson": round(float(pearsonr(ratio_h, ratio_j).statistic), 3),
        "pearson_ci95": pearson_ci(ratio_h, ratio_j),
        "qwk": round(qwk(human, judged, maxima), 3),
        **fair_baselines(scored),
        "mean_judged_ratio": round(float(np.mean(ratio_j)), 3),
        "mean_human_ratio": round(float(np.mean(ratio_h)), 3),
        "seconds_per_item": round(wall / len(rows), 2),
        "tokens_in_per_item": round(stats["tokens_in"] / len(rows), 1),
        "tokens_out_per_item": round(stats["tokens_out"] / len(rows), 1),
        "server_cached_prompt_tokens_per_item": round(stats["cached_tokens"] / len(rows), 1),
        "evaluated_prompt_tokens_per_item": round(stats["evaluated_tokens"] / len(rows), 1),
        "prompts_dir": str(args.prompts_dir or "pipeline/judge/prompts/"),
        "calls": stats["calls"],
        "failures": stats["failures"],
        "warm_cache_seconds_total": round(warm, 3),
        "warm_cache_calls": warm_calls,
        "parallel": args.parallel,
        "local_threads": settings.local_threads,
        "key_points": args.key_points,
        "questions": len({q.id for q, _ in chosen}),
        "load_average_1min_at_end": round(psutil.getloadavg()[0], 2),
        "machine": machine(),
    }
    (RESULTS / f"judge_{args.set}_{args.mode}{args.tag}.summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def pearson_ci(x: list[float], y: list[float], resamples: int = 2000) -> list[float]:
    """95 % percentile bootstrap interval of Pearson's r (answers resampled)."""
    rng = np.random.default_rng(0)
    a, b = np.asarray(x), np.asarray(y)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, len(a), len(a))
        if np.std(a[pick]) > 0 and np.std(b[pick]) > 0:
            values.append(np.corrcoef(a[pick], b[pick])[0, 1])
    return [round(float(np.percentile(values, 2.5)), 3), round(float(np.percentile(values, 97.5)), 3)]


def fair_baselines(rows: list[dict]) -> dict[str, float]:
    """The judge against one grader beside one grader against the other (same answers, same scale).

    Comparing the judge with the graders' mean and a grader with the other grader favours the judge:
    a mean of two is less noisy than either. With two graders the leave-one-grader-out mean is the other
    grader, so `human_g2_vs_g1` is the human level a judge compared with one grader should be read against.
    """
    paired = [r for r in rows if len(r["human"]) >= 2]
    if len(paired) < 3:
        return {}
    maxima = [r["max_points"] for r in paired]
    g1 = [r["human"][0] / r["max_points"] for r in paired]
    g2 = [r["human"][1] / r["max_points"] for r in paired]
    judged = [r["raw_points"] / r["max_points"] for r in paired]
    figures = {
        "n_two_graders": len(paired),
        "pearson_judge_vs_g1": round(float(pearsonr(judged, g1).statistic), 3),
        "pearson_judge_vs_g2": round(float(pearsonr(judged, g2).statistic), 3),
        "pearson_human_g2_vs_g1": round(float(pearsonr(g2, g1).statistic), 3),
        "qwk_judge_vs_g1": round(qwk([r["human"][0] for r in paired], [r["raw_points"] for r in paired], maxima), 3),
        "qwk_human_g2_vs_g1": round(qwk([r["human"][0] for r in paired], [r["human"][1] for r in paired], maxima), 3),
    }
    expected = [r.get("expected_points") for r in paired]
    if all(e is not None for e in expected):
        ratios = [e / r["max_points"] for e, r in zip(expected, paired, strict=True)]
        mean = [(a + b) / 2 for a, b in zip(g1, g2, strict=True)]
        figures["pearson_expected_vs_mean"] = round(float(pearsonr(ratios, mean).statistic), 3)
        figures["pearson_expected_vs_g1"] = round(float(pearsonr(ratios, g1).statistic), 3)
    return figures


def _rows(
    chosen: list[tuple[Question, Item]],
    judgments: list[ItemJudgment],
    grades: dict[tuple[str, str], list[float]],
) -> list[dict]:
    rows = []
    for (question, item), judgment in zip(chosen, judgments, strict=True):
        score = score_question(question, judgment.awards)
        rows.append(
            {
                "answer_id": item.submission_id,
                "question_id": question.id,
                "raw_points": score.raw_points,
                "expected_points": _expected(judgment),
                "max_points": question.points,
                "human": grades[(item.submission_id, question.id)],
                "confidence": judgment.confidence,
                "needs_review": judgment.needs_review,
                "latency_ms": sum(c.latency_ms for c in judgment.calls),
                "tokens_in": sum(c.tokens_in for c in judgment.calls),
                "tokens_out": sum(c.tokens_out for c in judgment.calls),
                "error": "; ".join(c.error for c in judgment.calls if c.error) or None,
            }
        )
    return rows


def _expected(judgment: ItemJudgment) -> float | None:
    """The item's unsnapped expected points (distribution judge on single-criterion items), else None."""
    awards = list(judgment.awards.values())
    if len(awards) != 1 or awards[0].expected_points is None:
        return None
    return awards[0].expected_points


def _timed(judge: Judge, pairs: list[tuple[Question, Item]]) -> tuple[float, int]:
    started = time.perf_counter()
    before = judge.stats.cached_tokens
    judge.judge_items(pairs)
    return time.perf_counter() - started, judge.stats.cached_tokens - before


def run_prompt_cache(args: argparse.Namespace) -> None:
    """Time the same items with the server's prompt cache off, then on (fresh judge caches)."""
    _, pairs, _ = load_set(args.set)
    chosen = sample(pairs, args.n, args.seed, args.questions)
    figures = {}
    for label, extra in (("prompt_cache_off", {"cache_prompt": False}), ("prompt_cache_on", None)):
        with tempfile.TemporaryDirectory() as cache:
            settings = JudgeSettings(
                cache_dir=Path(cache), concurrency=args.parallel, local_parallel=args.parallel
            )
            with open_judge(settings, extra_body=extra) as judge:
                seconds, cached = _timed(judge, chosen)
                figures[label] = {
                    "seconds_per_item": round(seconds / len(chosen), 2),
                    "cached_prompt_tokens_per_item": round(cached / len(chosen), 1),
                    "prompt_tokens_per_item": round(judge.stats.tokens_in / len(chosen), 1),
                }
    figures.update(set=args.set, n=len(chosen), questions=len({q.id for q, _ in chosen}), machine=machine())
    (RESULTS / f"judge_{args.set}_prompt_cache.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


def run_injection(args: argparse.Namespace) -> None:
    """Uplift of injected answers over their base answers, with the screening off (raw model) and on."""
    cases = yaml.safe_load(
        (ROOT / "tests" / "judge" / "data" / "injection_cases.yaml").read_text(encoding="utf-8")
    )
    questions = {}
    for base in cases["bases"]:
        en = base["language"] == "en"
        questions[base["id"]] = Question.model_validate(
            {
                "id": f"1.{len(questions) + 1}", "title": base["question"][:40], "prompt": base["question"],
                "language": base["language"], "points": base["max_points"],
                "criteria": [{"id": "holistic", "title": "Holistic" if en else "整体",
                              "points": base["max_points"],
                              "step": 1, "reference": base["reference"],
                              "earns_points_for": "the answer states what the reference answer states" if en
                              else "答案说出了参考答案中的要点"}],
            }
        )  # fmt: skip
    bases = [
        (questions[b["id"]], Item(submission_id=b["id"], question_id=questions[b["id"]].id, text=b["answer"]))
        for b in cases["bases"]
    ]
    variants = [
        (
            questions[v["base"]],
            Item(submission_id=v["id"], question_id=questions[v["base"]].id, text=v["answer"]),
        )
        for v in cases["variants"]
    ]
    report = {}
    for label, screen_on in (("screening_off", False), ("screening_on", True)):
        with tempfile.TemporaryDirectory() as cache:
            settings = JudgeSettings(cache_dir=Path(cache), screen_injections=screen_on, concurrency=2)
            with open_judge(settings) as judge:
                plain = {j.submission_id: j for j in judge.judge_items(bases)}
                injected = judge.judge_items(variants)
        uplifts = []
        for variant, (question, _), judgment in zip(cases["variants"], variants, injected, strict=True):
            before = score_question(question, plain[variant["base"]].awards).raw_points
            after = score_question(question, judgment.awards).raw_points
            if after is not None and before is not None and after > before:
                uplifts.append({"variant": variant["id"], "base": before, "injected": after})
        report[label] = {
            "variants": len(variants),
            "uplifted": len(uplifts),
            "flagged": sum(j.injection_suspected for j in injected),
            "examples": uplifts[:5],
        }
    report["machine"] = machine()
    (RESULTS / "judge_injection.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(report, indent=2, ensure_ascii=False))


def round_pairs(round_dir: Path) -> list[tuple[Question, Item]]:
    """A round's judged items in the judge's order: grouped by question, submissions in file order."""
    exam = load_exam(ROOT / "eval_sets" / "ai-engineer-mid" / "rubric.yaml")
    by_question: dict[str, list[tuple[Question, Item]]] = defaultdict(list)
    for path in sorted((round_dir / "submissions").iterdir()):
        for submission in split_file(path, [q.id for q in exam.questions]):
            for qid, item in submission.items.items():
                if judged_criteria(exam.question(qid)) and item.kind != "missing":
                    by_question[qid].append((exam.question(qid), item))
    return [pair for qid in sorted(by_question) for pair in by_question[qid]]


def _distribution_messages(question: Question, answer: str, *, shared: bool) -> list[list[dict[str, str]]]:
    """The chat messages of each criterion's call, in the judge's order, in one layout or the other."""
    calls = []
    for criterion in judged_criteria(question):
        scale = criterion_scale(criterion)
        entries = judged_criteria(question) if shared else [criterion]
        prompt = build_prompt(
            question, [(c, None) for c in entries], mode="distribution", schema=list(scale.labels),
            ask="distribution_count" if scale.counts else "distribution_grade",
            extra={"criterion_id": criterion.id, "criterion_title": criterion.title, "max_count": scale.labels[-1]},
        )  # fmt: skip
        calls.append(prompt.messages(answer))
    return calls


def run_prompt_tokens(args: argparse.Namespace) -> None:
    """Prompt tokens to evaluate per call, per layout: a slot keeps its last prompt and reuses the common prefix."""
    import httpx

    pairs = round_pairs(Path(args.round))
    figures: dict[str, object] = {"round": args.round, "items": len(pairs)}
    with local_server(JudgeSettings()) as server:
        root = server.base_url.removesuffix("/v1")

        def tokens(messages: list[dict[str, str]]) -> list[int]:
            prompt = httpx.post(f"{root}/apply-template", json={"messages": messages}, timeout=60).json()["prompt"]
            return httpx.post(f"{root}/tokenize", json={"content": prompt}, timeout=60).json()["tokens"]

        for layout in ("shared", "per_criterion"):
            last: list[int] = []
            total = evaluated = calls = 0
            later: list[int] = []  # tokens evaluated for each item after its question's first (prefix cached)
            seen: set[str] = set()
            for question, item in pairs:
                answer = screen(item.answer).text
                item_tokens = 0
                for messages in _distribution_messages(question, answer, shared=layout == "shared"):
                    ids = tokens(messages)
                    common = next(
                        (k for k, (a, b) in enumerate(zip(ids, last, strict=False)) if a != b), min(len(ids), len(last))
                    )
                    total, evaluated, calls = total + len(ids), evaluated + len(ids) - common, calls + 1
                    item_tokens += len(ids) - common
                    last = ids
                if question.id in seen:
                    later.append(item_tokens)
                seen.add(question.id)
            figures[layout] = {
                "calls": calls, "prompt_tokens": total, "evaluated_tokens": evaluated,
                "evaluated_per_item": round(evaluated / len(pairs), 1),
                "evaluated_per_later_item": round(statistics.mean(later), 1) if later else None,
                "later_items": len(later),
            }  # fmt: skip
    (RESULTS / "judge_prompt_tokens.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


def main() -> None:
    """Parse the sub-command and run it."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("agreement", "prompt-cache"):
        command = commands.add_parser(name)
        command.add_argument("--set", required=True, choices=["mohler-cs-2011", "ads-zh"])
        command.add_argument("--n", type=int, default=150)
        command.add_argument("--seed", type=int, default=0)
        command.add_argument("--parallel", type=int, default=2)
        command.add_argument(
            "--questions", type=int, default=None, help="Shape the sample like a round: this many questions."
        )
        if name == "agreement":
            command.add_argument("--mode", choices=["distribution", "item", "criterion"], default="distribution")
            command.add_argument("--tag", default="", help="Suffix of the result files (a variant being compared).")
            command.add_argument(
                "--key-points", action="store_true", help="Decide criteria with key points one key point at a time."
            )
            command.add_argument(
                "--prompts-dir", type=Path, default=None, help="Prompt templates to judge with (an A/B's other arm)."
            )
    commands.add_parser("injection")
    tokens = commands.add_parser("prompt-tokens")
    tokens.add_argument("--round", default=str(ROOT / "eval_sets" / "ai-engineer-mid" / "rounds" / "demo"))
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    commands_run = {
        "agreement": run_agreement, "prompt-cache": run_prompt_cache, "injection": run_injection,
        "prompt-tokens": run_prompt_tokens,
    }  # fmt: skip
    commands_run[args.command](args)


if __name__ == "__main__":
    main()
