"""Exemplars in the prompt (issue 20 item 3): judge the ungraded answers with and without the graded ones shown.

    .venv/bin/python benchmarks/bench_exemplars.py --set ads-zh [--k 5] [--bootstrap 1000]

The learning curve's sample (`judge_<set>_distribution_askfirst_t2.jsonl`: 15 questions, 10 judged answers
each): `propose` picks K answers per question, as an operator would grade them in the station; their human
grades become the question's exemplars (answer → points, in the prompt prefix; `Judge(exemplars=...)`).
Every answer of the sample is judged twice in this one run, each time on a fresh judge cache: without
exemplars (today's prompt) and with them, where a graded answer is judged with the other K − 1 shown (no
answer is ever judged with itself shown), as a re-score of the round would. Figures on the 10 − K
ungraded answers of every question only: Pearson and QWK against the humans with 95 % bootstrap
intervals, raw and through the few-grade calibration fitted on the K graded answers (the learning
curve's fit, on that variant's judge), the paired difference (with − without, bootstrap over the
answers), and the mean within-question Pearson (the judge's ordering). Figures land in
`benchmarks/results/exemplars_<set>.json`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from bench_calibration import answers_of
from bench_judge import load_set, machine
from bench_learning_curve import FEW, SCALES, figures, load, proposed_mask, score_rest
from scipy.stats import pearsonr

from pipeline.calibrate import CalibrationData
from pipeline.judge import Exemplar, JudgeSettings, open_judge
from pipeline.scoring import score_question

RESULTS = Path(__file__).parent / "results"


def judged_shares(
    set_name: str, keys: list[tuple[str, str]], exemplars: dict[str, list[Exemplar]], parallel: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """The judge's share of the points for each of `keys` (NaN: unscored), on a fresh cache; and its cost."""
    _, pairs, _ = load_set(set_name)
    by_key = {(item.submission_id, question.id): (question, item) for question, item in pairs}
    chosen = [by_key[key] for key in keys]
    with tempfile.TemporaryDirectory() as cache:
        settings = JudgeSettings(
            cache_dir=Path(cache), mode="distribution", concurrency=parallel, local_parallel=parallel,
            explain="never", prefix_states=False,
        )  # fmt: skip
        with open_judge(settings, exemplars=exemplars) as judge:
            started = time.perf_counter()
            judgments = judge.judge_items(chosen)
            seconds = time.perf_counter() - started
            stats = judge.stats
    shares = []
    for (question, _), judgment in zip(chosen, judgments, strict=True):
        points = score_question(question, judgment.awards).raw_points
        shares.append(np.nan if points is None else points / question.points)
    cost = {
        "seconds": round(seconds, 1), "seconds_per_answer": round(seconds / len(keys), 2), "calls": stats.calls,
        "evaluated_prompt_tokens": stats.evaluated_tokens, "failures": stats.failures,
    }  # fmt: skip
    return np.array(shares), cost


def within_question_pearson(shares: np.ndarray, data: CalibrationData) -> float:
    """Mean over the questions of the judge's Pearson with the humans on that question's answers."""
    values = []
    for question in sorted(set(data.question_id.tolist())):
        rows = data.question_id == question
        x, y = shares[rows], data.human[rows] / data.max_points[rows]
        if len(x) > 2 and np.std(x) > 0 and np.std(y) > 0:
            values.append(float(pearsonr(x, y).statistic))
    return round(float(np.mean(values)), 3) if values else float("nan")


def paired_difference(with_: np.ndarray, without: np.ndarray, human: np.ndarray, n: int) -> list[float]:
    """Pearson(with) − Pearson(without) on the same answers: the value and its 95 % bootstrap interval."""
    rng = np.random.default_rng(0)

    def gap(rows: np.ndarray) -> float:
        return float(pearsonr(with_[rows], human[rows]).statistic - pearsonr(without[rows], human[rows]).statistic)

    everyone = np.arange(len(human))
    resampled = [gap(rng.choice(everyone, size=len(everyone))) for _ in range(n)]
    return [round(gap(everyone), 3), *(round(float(v), 3) for v in np.nanpercentile(resampled, [2.5, 97.5]))]


def main() -> None:
    """Judge the ungraded answers of one set with and without the K proposed answers as exemplars."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", required=True, choices=sorted(SCALES))
    parser.add_argument("--k", type=int, default=5, help="graded answers per question (the exemplars)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    data, rows = load(args.set)
    graded = proposed_mask(data, rows, args.k)
    keys = [(str(s), str(q)) for s, q in zip(data.submission_id, data.question_id, strict=True)]
    texts = answers_of(args.set)
    exemplars: dict[str, list[Exemplar]] = defaultdict(list)
    for key, picked, human, top in zip(keys, graded, data.human, data.max_points, strict=True):
        if picked:
            exemplars[key[1]].append(Exemplar(answer=texts[key], points=float(human), max_points=float(top)))
    rest = data.subset(~graded)
    in_question_order = sorted(keys, key=lambda k: (k[1], k[0]))
    order = {key: i for i, key in enumerate(in_question_order)}
    positions = [order[key] for key in keys]
    result: dict[str, Any] = {"set": args.set, "k": args.k, "n_ungraded": int((~graded).sum())}
    shares = {}
    for name, shown in (("without_exemplars", {}), ("with_exemplars", dict(exemplars))):
        judged, cost = judged_shares(args.set, in_question_order, shown, args.parallel)
        everyone = judged[positions]
        shares[name] = everyone[~graded]
        judged_data = replace(data, raw_points=np.nan_to_num(everyone) * data.max_points)
        calibrated, reversed_ = score_rest(judged_data, graded, FEW)
        result[name] = {
            "raw": figures(np.nan_to_num(shares[name]), rest, SCALES[args.set], args.bootstrap),
            "few_grade_fit": figures(calibrated, rest, SCALES[args.set], args.bootstrap),
            "questions_with_the_judge_dropped": reversed_,
            "unscored": int((~np.isfinite(everyone)).sum()),
            "within_question_pearson_ungraded": within_question_pearson(shares[name], rest),
            "mean_share_ungraded": round(float(np.nanmean(shares[name])), 3),
            **cost,
        }
        print(name, json.dumps(result[name]), flush=True)
    result["human_mean_share"] = round(float(np.mean(rest.human / rest.max_points)), 3)
    result["pearson_with_minus_without"] = paired_difference(
        np.nan_to_num(shares["with_exemplars"]), np.nan_to_num(shares["without_exemplars"]),
        rest.human / rest.max_points, args.bootstrap,
    )  # fmt: skip
    stored, _ = score_rest(data, graded, FEW)
    result["few_grade_fit_on_the_stored_judge"] = figures(stored, rest, SCALES[args.set], args.bootstrap)
    result["exemplars_per_question"] = statistics.mean(len(v) for v in exemplars.values())
    result["machine"] = machine()
    (RESULTS / f"exemplars_{args.set}.json").write_text(json.dumps(result, indent=2, default=float), encoding="utf-8")
    print(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
