"""Convert the human-graded short-answer datasets into gradeflow eval sets.

Each set becomes `eval_sets/<set>/`: `rubric.yaml` (one question per dataset question, one holistic
criterion carrying the reference answer), `submissions/answers.jsonl` (one submission per answer),
`human_grades.csv` (one row per grader), `split.csv` (a fixed dev/test split) and the source's licence.
The output is a pure function of the input rows, so re-running the script reproduces the files byte for byte.

    python eval_sets/convert_datasets.py [--datasets ../shared/datasets] [--out eval_sets]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rubric_schema import enumerated_points

HERE = Path(__file__).resolve().parent
DEFAULT_DATASETS = HERE.parent.parent / "shared" / "datasets"
DEV_SHARE = 0.5
"""Half of each question's answers are dev (fitting, prompt work), half test (the held-out figure)."""


@dataclass(frozen=True)
class Row:
    """One graded answer, as the sets agree on it."""

    question_id: str
    question: str
    references: tuple[str, ...]
    answer_id: str
    answer: str
    max_points: float
    grades: tuple[float, ...]


@dataclass(frozen=True)
class SetSpec:
    """What differs between the sets: language, granularity, wording of the holistic criterion, sections."""

    name: str
    title: str
    language: str
    step: float
    earns_points_for: str
    grading_notes: str
    section_of: Callable[[str], tuple[str, str]]
    """question id → (section id, section title)."""
    reference_label: str
    """Prefix of each reference answer when a question has several ("Reference answer 1")."""


def _mohler_section(question_id: str) -> tuple[str, str]:
    number = int(question_id.split(".")[0])
    if number <= 10:
        return f"assignment-{number}", f"Assignment {number}"
    return f"exam-{number - 10}", f"Exam {number - 10}"


MOHLER = SetSpec(
    name="mohler-cs-2011",
    title="Mohler, Bunescu & Mihalcea 2011: data structures short answers (v2.0)",
    language="en",
    step=0.5,
    earns_points_for=(
        "A correct and complete answer to the question: it says what the reference answer says, in the "
        "candidate's own words, and makes no wrong claim."
    ),
    grading_notes=(
        "Give partial credit in proportion to how much of the reference answer is stated correctly. "
        "Equivalent wording, examples or extra correct detail are fine; wrong statements lose points; "
        "an answer that only restates the question earns nothing."
    ),
    section_of=_mohler_section,
    reference_label="Reference answer",
)

ADS = SetSpec(
    name="ads-zh",
    title="算法与数据结构简答题（aleversn/SAS-Datasets）",
    language="zh",
    step=1.0,
    earns_points_for="答案正确且完整：覆盖参考答案的要点（可用自己的话表述），且没有错误的说法。",
    grading_notes=(
        "按答对的要点占参考答案要点的比例给部分分；有多个参考答案时，与其中任意一个一致即可。"
        "等价的表述、正确的举例或补充不扣分；错误的说法要扣分；只复述题目不得分。"
    ),
    section_of=lambda question_id: ("ads", "算法与数据结构"),
    reference_label="参考答案",
)


def _read_rows(path: Path) -> list[Row]:
    """Read a dataset's answers.jsonl; a malformed line stops the conversion with its number."""
    rows: list[Row] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw: dict[str, Any] = json.loads(line)
            references = raw.get("reference_answers") or [raw["reference_answer"]]
            grades = tuple(float(raw[key]) for key in ("grader1", "grader2") if raw.get(key) is not None)
            rows.append(
                Row(
                    question_id=str(raw["question_id"]),
                    question=str(raw["question"]).strip(),
                    references=tuple(str(r).strip() for r in references),
                    answer_id=str(raw["answer_id"]),
                    answer=str(raw["answer"]),
                    max_points=float(raw["max_points"]),
                    grades=grades,
                )
            )
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as error:
            raise SystemExit(f"{path}:{number}: not a graded answer row ({error!r})") from None
        if not rows[-1].grades:
            raise SystemExit(f"{path}:{number}: no grader1 grade")
    return rows


def _question_key(question_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in question_id.split("."))


def _points(value: float) -> int | float:
    """Points as YAML/CSV show them: 5 not 5.0, 7.5 stays."""
    return int(value) if float(value).is_integer() else value


def _key_points(references: tuple[str, ...]) -> dict[str, list[str]]:
    """The reference's statements as the criterion's key points (what earns its points here), where it
    makes several; none where a question has several references (an answer may follow any one of them).
    """
    points = enumerated_points(references[0]) if len(references) == 1 else []
    return {"key_points": points} if points else {}


def _rubric(spec: SetSpec, rows: list[Row]) -> dict[str, Any]:
    """One question per dataset question, each with one holistic criterion worth the question's maximum."""
    questions: dict[str, Row] = {}
    for row in rows:
        first = questions.setdefault(row.question_id, row)
        if (first.question, first.references, first.max_points) != (
            row.question,
            row.references,
            row.max_points,
        ):
            raise SystemExit(
                f"{spec.name}: question {row.question_id} has differing text, references or maximum"
            )
    sections: dict[str, dict[str, Any]] = {}
    for question_id in sorted(questions, key=_question_key):
        row = questions[question_id]
        if len(row.references) == 1:
            reference = row.references[0]
        else:
            reference = "\n\n".join(
                f"{spec.reference_label} {i}: {r}" for i, r in enumerate(row.references, 1)
            )
        section_id, section_title = spec.section_of(question_id)
        section = sections.setdefault(
            section_id, {"id": section_id, "title": section_title, "points": 0, "questions": []}
        )
        section["points"] += row.max_points
        title = row.question if len(row.question) <= 60 else row.question[:59].rstrip() + "…"
        section["questions"].append(
            {
                "id": question_id,
                "title": title,
                "prompt": row.question,
                "points": _points(row.max_points),
                "language": spec.language,
                "criteria": [
                    {
                        "id": "holistic",
                        "title": "Holistic" if spec.language == "en" else "整体评分",
                        "points": _points(row.max_points),
                        "step": _points(spec.step),
                        "earns_points_for": spec.earns_points_for,
                        "reference": reference,
                        "grading_notes": spec.grading_notes,
                        **_key_points(row.references),
                    }
                ],
            }
        )
    for section in sections.values():
        section["points"] = _points(section["points"])
    return {
        "id": spec.name,
        "title": spec.title,
        "language": spec.language,
        "total_points": _points(sum(s["points"] for s in sections.values())),
        "sections": list(sections.values()),
    }


def _split(spec: SetSpec, rows: list[Row]) -> list[dict[str, Any]]:
    """Split dev/test, stratified by question, with a rank that interleaves questions.

    Answers are ordered by a hash of their id inside each question; the first half is dev. `rank` deals
    the answers out question by question, so "the dev rows with rank < N" is a question-balanced sample
    of N answers for a quick judge run.
    """
    by_question: dict[str, list[Row]] = {}
    for row in rows:
        by_question.setdefault(row.question_id, []).append(row)
    labelled: dict[str, list[tuple[str, Row]]] = {"dev": [], "test": []}
    for question_id in sorted(by_question, key=_question_key):
        ordered = sorted(
            by_question[question_id],
            key=lambda r: hashlib.sha256(f"{spec.name}:{r.answer_id}".encode()).hexdigest(),
        )
        n_dev = round(len(ordered) * DEV_SHARE)
        for position, row in enumerate(ordered):
            labelled["dev" if position < n_dev else "test"].append((question_id, row))
    out: list[dict[str, Any]] = []
    for split, members in labelled.items():
        queues: dict[str, list[Row]] = {}
        for question_id, row in members:
            queues.setdefault(question_id, []).append(row)
        rank = 0
        while any(queues.values()):
            for question_id in list(queues):
                if queues[question_id]:
                    row = queues[question_id].pop(0)
                    out.append(
                        {
                            "submission_id": row.answer_id,
                            "question_id": question_id,
                            "split": split,
                            "rank": rank,
                        }
                    )
                    rank += 1
    return out


def _csv(header: list[str], records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line text as YAML block scalars, so references stay readable in review."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _str_representer)


def convert(spec: SetSpec, source: Path, out: Path) -> dict[str, int]:
    """Write one eval set from `source/answers.jsonl` into `out`; returns counts for the log line."""
    rows = _read_rows(source / "answers.jsonl")
    ids = [row.answer_id for row in rows]
    if len(set(ids)) != len(ids):
        raise SystemExit(f"{source / 'answers.jsonl'}: answer ids are not unique")
    (out / "submissions").mkdir(parents=True, exist_ok=True)
    rubric = yaml.dump(
        _rubric(spec, rows), Dumper=_LiteralDumper, allow_unicode=True, sort_keys=False, width=110
    )
    (out / "rubric.yaml").write_text(
        f"# Generated by eval_sets/convert_datasets.py; do not edit.\n{rubric}", encoding="utf-8"
    )
    lines = [
        json.dumps(
            {"submission_id": r.answer_id, "candidate_id": r.answer_id, "answers": {r.question_id: r.answer}},
            ensure_ascii=False,
        )
        for r in rows
    ]
    (out / "submissions" / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    grades = [
        {
            "submission_id": r.answer_id,
            "question_id": r.question_id,
            "criterion_id": "holistic",
            "grader": f"g{number}",
            "points": _points(points),
        }
        for r in rows
        for number, points in enumerate(r.grades, start=1)
    ]
    header = ["submission_id", "question_id", "criterion_id", "grader", "points"]
    (out / "human_grades.csv").write_text(_csv(header, grades), encoding="utf-8")
    split = _split(spec, rows)
    (out / "split.csv").write_text(
        _csv(["submission_id", "question_id", "split", "rank"], split), encoding="utf-8"
    )
    if (source / "LICENSE").exists():
        shutil.copyfile(source / "LICENSE", out / "LICENSE")
    return {
        "answers": len(rows),
        "questions": len({r.question_id for r in rows}),
        "grades": len(grades),
        "dev": sum(1 for s in split if s["split"] == "dev"),
    }


def main() -> None:
    """Convert every known set found under --datasets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", type=Path, default=DEFAULT_DATASETS, help="folder with one folder per set"
    )
    parser.add_argument("--out", type=Path, default=HERE, help="where the eval sets are written")
    args = parser.parse_args()
    for spec in (MOHLER, ADS):
        source = args.datasets / spec.name
        if not (source / "answers.jsonl").exists():
            raise SystemExit(f"{source / 'answers.jsonl'}: not found (pass --datasets)")
        counts = convert(spec, source, args.out / spec.name)
        print(f"{spec.name}: " + ", ".join(f"{value} {key}" for key, value in counts.items()))


if __name__ == "__main__":
    main()
