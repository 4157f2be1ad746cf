"""Learning curve of the few-grade calibration: agreement on the ungraded answers against K grades per question.

    .venv/bin/python benchmarks/bench_learning_curve.py [--seeds 20] [--bootstrap 1000] [--write-prior]

On each set's stored judged sample (`benchmarks/results/judge_<set>_distribution_askfirst_t2.jsonl`, 10
judged answers per question, 15 questions): K answers per question are graded (chosen by `propose`, or at
random with `--seeds` seeds), a `pooling="empirical"` calibration (judge share, answer–reference
similarity, graded-answer neighbours among the K graded only) is fitted on them, and the remaining
10 − K judged answers per question are scored. K = 0 is the shipped prior, measured leave-dataset-out
(fitted on the other set's dev answers) and, as shipped (both sets' dev answers), on each test split.
K = 10 and 20 need more judged answers than the files hold (10 per question: nothing would be left to
score). Human–human agreement is on the same ungraded answers (Mohler has two graders; ADS one).
`--write-prior` rewrites the shipped prior `pipeline/calibrate/prior.json` from both sets' dev answers.
Figures land in `benchmarks/results/learning_curve.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from typing import Any

import numpy as np
from bench_calibration import RESULTS, ROOT, embedded, item_rows, machine, similarities, split_of

from pipeline.calibrate import (
    PRIOR_FILE,
    CalibrationConfig,
    CalibrationData,
    Scale,
    bootstrap_agreement,
    candidates,
    default_embedder,
    fit_model,
    fit_prior,
    join_scores,
    load_human_grades,
    propose,
    save_calibration,
)
from pipeline.settings import ScoreSettings

SETS = ("mohler-cs-2011", "ads-zh")
CACHE_ROOT = ScoreSettings().cache_dir
"""The gradeflow cache root (GRADEFLOW_CACHE_DIR): the answer embeddings live under it."""
MODE = "distribution_askfirst_t2"
SCALES = {"mohler-cs-2011": Scale(max_points=5, step=0.5), "ads-zh": Scale(max_points=10, step=1)}
KS = (3, 5)
FEW = CalibrationConfig(mapping="linear", pooling="empirical")
FIXED = CalibrationConfig(mapping="linear")
"""The fit made for many grades (n / (n + 20), maps from 8 grades): what K grades got before."""


def load(set_name: str, *, vectors: bool = True) -> tuple[CalibrationData, list[dict[str, Any]]]:
    """The set's judged answers joined with their human grades, with similarity and (optionally) vectors."""
    rows = item_rows(RESULTS / f"judge_{set_name}_{MODE}.jsonl", round_id=f"{set_name}-{MODE}")
    data, _ = join_scores(rows, load_human_grades(ROOT / "eval_sets" / set_name / "human_grades.csv"))
    keys = {(str(s), str(q)) for s, q in zip(data.submission_id, data.question_id, strict=True)}
    data = data.with_similarity(similarities(set_name, keys, RESULTS / f"similarity_{set_name}.csv"))
    if vectors:
        data = data.with_embeddings(embedded(set_name, keys), default_embedder(CACHE_ROOT).model_id)
    return data, rows


def concat(parts: list[CalibrationData]) -> CalibrationData:
    """Items of several sets as one data set (similarity kept; vectors dropped: a prior has no neighbours)."""
    names = sorted({name for part in parts for name in part.graders})

    def column(part: CalibrationData, name: str) -> np.ndarray:
        return part.graders.get(name, np.full(len(part), np.nan))

    def join(field: str) -> np.ndarray:
        return np.concatenate([getattr(part, field) for part in parts])

    return CalibrationData(
        submission_id=join("submission_id"),
        question_id=np.concatenate([np.array([f"{i}:{q}" for q in p.question_id], dtype=object) for i, p in
                                    enumerate(parts)]),
        max_points=join("max_points"),
        raw_points=join("raw_points"),
        confidence=join("confidence"),
        human=join("human"),
        graders={name: np.concatenate([column(part, name) for part in parts]) for name in names},
        similarity=join("similarity"),
    )  # fmt: skip


def figures(pred_share: np.ndarray, data: CalibrationData, scale: Scale, n_bootstrap: int) -> dict[str, Any]:
    """Pearson and QWK (95 % bootstrap CI) of predicted shares against the graders' mean, on `scale`."""
    metrics = bootstrap_agreement(
        pred_share * scale.max_points, scale.rescale(data.human, data.max_points), scale, n_resamples=n_bootstrap
    )
    return {
        "n": len(data),
        **{m: [metrics[m].value, metrics[m].ci_low, metrics[m].ci_high] for m in ("pearson", "qwk")},
    }


def humans(data: CalibrationData, scale: Scale, n_bootstrap: int) -> dict[str, Any] | None:
    """Grader g2 against g1 on the items both graded (None where a set has one grader)."""
    if "g2" not in data.graders:
        return None
    both = np.isfinite(data.graders["g1"]) & np.isfinite(data.graders["g2"])
    part = data.subset(both)
    metrics = bootstrap_agreement(
        scale.rescale(part.graders["g2"], part.max_points),
        scale.rescale(part.graders["g1"], part.max_points),
        scale,
        n_resamples=n_bootstrap,
    )
    return {
        "n": int(both.sum()),
        **{m: [metrics[m].value, metrics[m].ci_low, metrics[m].ci_high] for m in ("pearson", "qwk")},
    }


def score_rest(data: CalibrationData, graded: np.ndarray, config: CalibrationConfig) -> tuple[np.ndarray, int]:
    """Fit on the graded items, predict the others' shares; also the questions the guard reversed."""
    model, _ = fit_model(data.subset(graded), config)
    rest = data.subset(~graded)
    predicted = model.predict(rest.question_id, rest.raw_fraction, rest.similarity, rest.embedding)
    return predicted, sum(fit.judge_reversed for fit in model.questions.values())


def proposed_mask(data: CalibrationData, rows: list[dict[str, Any]], k: int) -> np.ndarray:
    """Items `propose` picks, K per question, from the judged answers (with their vectors)."""
    assert data.embedding is not None
    vectors = {
        (str(s), str(q)): v for s, q, v in zip(data.submission_id, data.question_id, data.embedding, strict=True)
    }
    keys = set(vectors)
    chosen = {(p.submission_id, p.question_id) for p in propose(candidates(rows, set()), k, vectors)}
    assert chosen <= keys
    return np.array([(str(s), str(q)) in chosen for s, q in zip(data.submission_id, data.question_id, strict=True)])


def random_mask(data: CalibrationData, k: int, seed: int) -> np.ndarray:
    """K items per question drawn at random."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(data), dtype=bool)
    for question in sorted(set(data.question_id.tolist())):
        rows = np.flatnonzero(data.question_id == question)
        mask[rng.choice(rows, size=min(k, len(rows)), replace=False)] = True
    return mask


def curve(set_name: str, data: CalibrationData, rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Propose vs random for each K; the old fit and the raw judge on the proposed split beside them."""
    scale = SCALES[set_name]
    out: dict[str, Any] = {}
    for k in KS:
        graded = proposed_mask(data, rows, k)
        rest = data.subset(~graded)
        predicted, reversed_ = score_rest(data, graded, FEW)
        fixed, _ = score_rest(data, graded, FIXED)
        seeds = []
        for seed in range(args.seeds):
            mask = random_mask(data, k, seed)
            shares, _ = score_rest(data, mask, FEW)
            seeds.append(figures(shares, data.subset(~mask), scale, 0))
        # a fit that predicts one value for every answer has no Pearson: NaN, left out of the summary
        random_pearson = np.array([np.nan if s["pearson"][0] is None else s["pearson"][0] for s in seeds])
        random_qwk = np.array([np.nan if s["qwk"][0] is None else s["qwk"][0] for s in seeds])
        out[str(k)] = {
            "propose": figures(predicted, rest, scale, args.bootstrap) | {"reversed_questions": reversed_},
            "fixed_pooling_propose": figures(fixed, rest, scale, args.bootstrap),
            "raw_judge_propose": figures(rest.raw_fraction, rest, scale, args.bootstrap),
            "random": {
                "seeds": args.seeds,
                "undefined": int(np.isnan(random_pearson).sum()),
                "pearson_mean_sd_p95": _summary(random_pearson),
                "qwk_mean_sd_p95": _summary(random_qwk),
                "seed0": figures(*_seed0(data, k), scale, args.bootstrap),
            },
            "humans": humans(rest, scale, args.bootstrap),
        }  # fmt: skip
    return out


def _summary(values: np.ndarray) -> list[float]:
    """Mean, SD and 95th percentile over the random seeds that gave a figure."""
    return [float(np.nanmean(values)), float(np.nanstd(values, ddof=1)), float(np.nanpercentile(values, 95))]


def _seed0(data: CalibrationData, k: int) -> tuple[np.ndarray, CalibrationData]:
    mask = random_mask(data, k, 0)
    shares, _ = score_rest(data, mask, FEW)
    return shares, data.subset(~mask)


def prior_figures(loaded: dict[str, CalibrationData], args: argparse.Namespace) -> dict[str, Any]:
    """K = 0: leave-dataset-out (fit on the other set's dev answers) and the shipped prior on each test split."""
    dev = {name: data.subset(np.array([split_of(name).get(s) == "dev" for s in data.submission_id]))
           for name, data in loaded.items()}  # fmt: skip
    shipped = fit_prior(concat([dev[name] for name in SETS]), n_bootstrap=args.bootstrap,
                        sources={"fitted_on": ", ".join(f"{n} dev answers ({MODE})" for n in SETS)})  # fmt: skip
    if args.write_prior:
        save_calibration(shipped, ROOT / "pipeline" / "calibrate" / PRIOR_FILE)
    out: dict[str, Any] = {
        "calibration_id": shipped.calibration_id,
        "stacks": [s.model_dump() for s in shipped.model.stacks],
    }
    for name, data in loaded.items():
        other = next(o for o in SETS if o != name)
        held = fit_prior(concat([dev[other]]), n_bootstrap=0).model
        test = data.subset(np.array([split_of(name).get(s) == "test" for s in data.submission_id]))
        scale = SCALES[name]
        unseen = held.predict(data.question_id, data.raw_fraction, data.similarity)
        on_test = shipped.model.predict(test.question_id, test.raw_fraction, test.similarity)
        out[name] = {
            f"leave_dataset_out_fit_on_{other}_dev": figures(unseen, data, scale, args.bootstrap),
            "shipped_prior_on_test": figures(on_test, test, scale, args.bootstrap),
            "raw_judge_all": figures(data.raw_fraction, data, scale, args.bootstrap),
            "humans_all": humans(data, scale, args.bootstrap),
        }
    return out


def main() -> None:
    """Measure the prior and the curve on both sets; write the JSON (and the prior with --write-prior)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="random choices of the K graded answers")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--write-prior", action="store_true", help=f"rewrite pipeline/calibrate/{PRIOR_FILE}")
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    loaded, rows = {}, {}
    for name in SETS:
        loaded[name], rows[name] = load(name)
    result: dict[str, Any] = {"prior": prior_figures({n: replace(d, embedding=None) for n, d in loaded.items()}, args)}
    for name in SETS:
        result[name] = curve(name, loaded[name], rows[name], args)
    result["machine"] = machine()
    result["seconds"] = {"wall": round(time.perf_counter() - started, 1), "cpu": round(time.process_time() - cpu, 1)}
    (RESULTS / "learning_curve.json").write_text(json.dumps(result, indent=2, default=float), encoding="utf-8")
    print(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
