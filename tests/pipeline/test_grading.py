"""One submission through judge + code + rules: rows that add up, review reasons, nothing silently zero.

The judge and the executor are fakes here (unit boundary); tests/flows runs the real flow end to end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

from pipeline.grading import defines, grade_batch, grade_submission, python_code, rejected_result, round_rows
from pipeline.ingest import CodeBlock, Item, RejectedFile, Submission
from pipeline.reasons import ReviewKind, ReviewReason
from pipeline.scoring import CriterionAward
from rubric_schema import Exam, parse_exam

EXAM = {
    "id": "mini",
    "title": "mini exam",
    "total_points": 10,
    "sections": [
        {
            "id": "s1",
            "title": "all",
            "points": 10,
            "questions": [
                {
                    "id": "1.1",
                    "title": "LIS",
                    "prompt": "Explain and implement LIS.",
                    "points": 6,
                    "criteria": [
                        {"id": "dp", "title": "DP", "points": 3, "earns_points_for": "the O(n^2) DP"},
                        {
                            "id": "fast",
                            "title": "n log n",
                            "points": 3,
                            "answer_kind": "both",
                            "code": {"task": "lis", "checks": ["correct", "complexity"]},
                            "earns_points_for": "the n log n method",
                        },
                    ],
                },
                {
                    "id": "1.2",
                    "title": "theory",
                    "prompt": "Why?",
                    "points": 4,
                    "criteria": [{"id": "why", "title": "why", "points": 4, "earns_points_for": "a reason"}],
                },
            ],
        }
    ],
    "code_tasks": [
        {
            "id": "lis",
            "question_id": "1.1",
            "entrypoint": "lis",
            "signature": "def lis(nums)",
            "max_complexity_exponent": 1.3,
        }
    ],
}


@pytest.fixture()
def exam() -> Exam:
    from pathlib import Path

    return parse_exam(EXAM, source=Path("mini.yaml"))


class Call(BaseModel):
    sample: int = 0
    model: str = "fake"
    prompt_sha: str = "p"
    rubric_sha: str = "r"
    cache_hit: bool = False
    latency_ms: float = 1.0
    tokens_in: int = 10
    tokens_out: int = 5
    error: str | None = None


@dataclass
class Judgment:
    submission_id: str
    question_id: str
    awards: dict[str, CriterionAward]
    confidence: float = 1.0
    needs_review: bool = False
    review_reasons: list[ReviewReason] = field(default_factory=list)
    injection_suspected: bool = False
    calls: list[Any] = field(default_factory=lambda: [Call()])


class Outcome(BaseModel):
    test_id: str
    passed: bool


@dataclass
class Run:
    task_id: str
    status: str
    checks: dict[str, bool]
    reason: str = ""
    tests: list[Any] = field(default_factory=list)
    callable: str = ""


def _submission(**items: Item) -> Submission:
    return Submission(
        submission_id="s1",
        candidate_id="c1",
        source_file="s1.md",
        items=items,
        missing=[q for q in ("1.1", "1.2") if q not in items],
    )


def test_code_criterion_takes_the_better_of_judge_and_code(exam: Exam) -> None:
    item = Item(
        submission_id="s1", question_id="1.1", text="dp...", code_blocks=[CodeBlock(code="def lis(n): ...")]
    )
    judgment = Judgment("s1", "1.1", {"dp": CriterionAward(points=3), "fast": CriterionAward(points=1)})
    run = Run("lis", "ok", {"correct": True, "complexity": True}, tests=[Outcome(test_id="t1", passed=True)])
    result = grade_submission(exam, _submission(**{"1.1": item}), {"1.1": judgment}, {"1.1": [run]})
    item_row = next(r for r in result.items if r.question_id == "1.1")
    assert item_row.raw_points == 6.0
    fast = next(r for r in result.criteria if r.criterion_id == "fast")
    assert (fast.points, fast.source) == (3.0, "executor")
    assert result.executor_runs[0].test_id == "t1"
    assert result.submission.raw_total == 6.0
    assert result.submission.n_missing == 1


def test_failing_code_sends_the_item_to_review_with_the_reason(exam: Exam) -> None:
    item = Item(
        submission_id="s1", question_id="1.1", text="", code_blocks=[CodeBlock(code="def lis(n): ...")]
    )
    judgment = Judgment("s1", "1.1", {"dp": CriterionAward(points=0), "fast": CriterionAward(points=0)})
    run = Run("lis", "failed", {"correct": False, "complexity": False}, reason="wrong length on trial 2")
    result = grade_submission(exam, _submission(**{"1.1": item}), {"1.1": judgment}, {"1.1": [run]})
    row = next(r for r in result.items if r.question_id == "1.1")
    assert row.needs_review is True
    assert row.review_reason == "code task lis: failed: wrong length on trial 2"
    assert row.review_kinds == ["code"]
    assert result.submission.status == "needs_review"


NOT_JSON = ReviewReason(kind=ReviewKind.JUDGE_ERROR, detail="judge reply was not JSON")


def test_a_failed_judge_call_leaves_the_item_unscored_not_zero(exam: Exam) -> None:
    item = Item(submission_id="s1", question_id="1.2", text="because")
    judgment = Judgment(
        "s1",
        "1.2",
        {"why": CriterionAward(points=None, reason=NOT_JSON)},
        needs_review=True,
        review_reasons=[NOT_JSON.under("why: unscored: ")],
    )
    result = grade_submission(exam, _submission(**{"1.2": item}), {"1.2": judgment}, {})
    row = next(r for r in result.items if r.question_id == "1.2")
    assert row.raw_points is None
    # the judge's reason and the scoring rule's, each as its producer typed it, in the order they arose
    assert row.review_reason == "why: unscored: judge reply was not JSON; unscored why: judge reply was not JSON"
    assert (row.review_kind, row.review_kinds) == ("judge_error", ["judge_error"])
    assert result.submission.n_unscored == 1
    assert result.submission.status == "needs_review"


def test_a_note_on_how_the_file_was_read_sends_its_answers_to_review(exam: Exam) -> None:
    item = Item(submission_id="s1", question_id="1.2", text="because")
    note = "encoding guessed as gb18030 with low confidence"
    submission = _submission(**{"1.2": item}).model_copy(update={"notes": [note]})
    judgment = Judgment("s1", "1.2", {"why": CriterionAward(points=4)})
    result = grade_submission(exam, submission, {"1.2": judgment}, {})
    row = next(r for r in result.items if r.question_id == "1.2")
    assert row.needs_review and row.review_reason == note and row.review_kinds == ["other"]
    assert result.submission.status == "needs_review"


def test_an_unjudged_criterion_and_a_duplicated_answer_say_their_kinds(exam: Exam) -> None:
    """No judgment at all: the scoring rule says "not judged" (unscored); ingest's joined parts say theirs."""
    item = Item(submission_id="s1", question_id="1.2", text="because")
    submission = _submission(**{"1.2": item}).model_copy(update={"duplicates": ["1.2"]})
    result = grade_submission(exam, submission, {}, {})
    row = next(r for r in result.items if r.question_id == "1.2")
    assert row.review_reason == "unscored why: not judged; question 1.2 answered more than once; parts joined"
    assert (row.review_kind, row.review_kinds) == ("unscored", ["unscored", "duplicate_answer"])
    assert [r.kind for r in result.reasons] == [ReviewKind.UNSCORED, ReviewKind.DUPLICATE_ANSWER]


def test_a_reason_said_twice_is_written_once_with_the_first_kind(exam: Exam) -> None:
    item = Item(submission_id="s1", question_id="1.2", text="because")
    twice = ReviewReason(kind=ReviewKind.LOW_CONFIDENCE, detail="confidence 0.10 below 0.75")
    judgment = Judgment("s1", "1.2", {"why": CriterionAward(points=1)}, needs_review=True, review_reasons=[twice] * 2)
    result = grade_submission(exam, _submission(**{"1.2": item}), {"1.2": judgment}, {})
    row = next(r for r in result.items if r.question_id == "1.2")
    assert (row.review_reason, row.review_kinds) == ("confidence 0.10 below 0.75", ["low_confidence"])


def test_missing_answers_score_zero_with_the_reason(exam: Exam) -> None:
    result = grade_submission(exam, _submission(), {}, {})
    assert [r.review_reason for r in result.items] == ["no answer", "no answer"]
    assert result.submission.raw_total == 0.0
    assert result.submission.status == "scored"


def test_calibration_fills_calibrated_points_and_routes_large_expected_errors(exam: Exam) -> None:
    class Calibrator:
        calibration_id = "cal-1"

        answers: list[str | None] = []

        def apply(self, question_id: str, raw_points: float, max_points: float, *, confidence=None, answer=None):
            self.answers.append(answer)  # the graded-answer neighbours embed the text
            return raw_points / 2, 3.0 if question_id == "1.2" else 0.1

        def review_reason(self, expected_error: float, max_points: float, question_id: str | None = None):
            # the question decides too: a question whose judge is reversed goes to review at any error
            if question_id == "1.2":
                said = f"calibration expects an error of {expected_error:.2f} points; judge reversed on {question_id}"
                return ReviewReason(kind=ReviewKind.CALIBRATION, detail=said)
            return None

    item = Item(submission_id="s1", question_id="1.2", text="because")
    judgment = Judgment("s1", "1.2", {"why": CriterionAward(points=4)})
    calibrator = Calibrator()
    result = grade_submission(exam, _submission(**{"1.2": item}), {"1.2": judgment}, {}, calibrator=calibrator)
    assert calibrator.answers == ["because"]
    row = next(r for r in result.items if r.question_id == "1.2")
    assert (row.raw_points, row.calibrated_points) == (4.0, 2.0)
    assert "calibration expects an error of 3.00" in row.review_reason
    assert "judge reversed on 1.2" in row.review_reason
    assert row.review_kinds == ["calibration"]
    assert result.submission.calibrated_total == 2.0
    assert result.submission.calibration_id == "cal-1"


def test_grade_batch_runs_only_attempted_code_tasks_and_judges_judged_questions(exam: Exam) -> None:
    seen: list[tuple[str, str]] = []
    ran: list[str] = []

    class Judge:
        def judge_items(self, pairs, *, samples):
            seen.extend((q.id, i.submission_id) for q, i in pairs)
            return [
                Judgment(i.submission_id, q.id, {c.id: CriterionAward(points=1) for c in q.all_criteria()})
                for q, i in pairs
            ]

    def execute(task, code):
        ran.append(code)
        return Run(task.id, "ok", {"correct": True, "complexity": False})

    with_code = Item(
        submission_id="s1",
        question_id="1.1",
        text="x",
        code_blocks=[CodeBlock(language="python", code="def lis(nums):\n    return 1")],
    )
    other_function = Item(
        submission_id="s2",
        question_id="1.1",
        text="y",
        code_blocks=[CodeBlock(language="python", code="def helper():\n    pass")],
    )
    subs = [
        Submission(
            submission_id="s1", candidate_id="c", source_file="a", items={"1.1": with_code}, missing=["1.2"]
        ),
        Submission(
            submission_id="s2",
            candidate_id="c",
            source_file="b",
            items={"1.1": other_function},
            missing=["1.2"],
        ),
    ]
    results = grade_batch(exam, subs, judge=Judge(), execute=execute)
    assert seen == [("1.1", "s1"), ("1.1", "s2")]
    assert len(ran) == 1
    fast = {
        r.submission_id: r
        for r in (row for res in results for row in res.criteria)
        if r.criterion_id == "fast"
    }
    assert fast["s1"].points == 1.5  # one of two checks passed beats the judge's 1
    assert fast["s2"].points == 1.0


def test_rejected_file_keeps_its_reason_and_round_rows_stamp_provenance(exam: Exam) -> None:
    result = rejected_result(exam, RejectedFile(source_file="subs/bad.md", reason="file is empty"))
    rows = round_rows("r1", "sha", [result], [])
    row = rows["submissions"][0]
    assert (row.submission_id, row.status, row.status_reason) == ("bad", "rejected", "file is empty")
    assert row.round_id == "r1" and row.rubric_sha == "sha" and row.gradeflow_version
    assert rows["items"] == []  # a rejected file has no items


def test_round_rows_keep_every_answer_as_split_in_the_items_table() -> None:
    """Issue 22 item 1: the answer text, code blocks, file and notes are written once, with the round."""
    prose = Item(submission_id="s1", question_id="1.1", text="Because gradients vanish.")
    code = Item(
        submission_id="s1", question_id="1.2", text="See:", code_blocks=[CodeBlock(language="python", code="x = 1")]
    )
    submission = _submission(**{"1.1": prose, "1.2": code}).model_copy(
        update={"duplicates": ["1.2"], "notes": ["encoding guessed: gb18030"]}
    )
    rows = round_rows("r1", "sha", [], [submission])["items"]
    assert [(r.round_id, r.submission_id, r.question_id) for r in rows] == [("r1", "s1", "1.1"), ("r1", "s1", "1.2")]
    assert rows[1].answer == code.answer == "See:\n\n```python\nx = 1\n```"
    assert rows[1].text == "See:" and [(b.language, b.code) for b in rows[1].code_blocks] == [("python", "x = 1")]
    assert [r.duplicated for r in rows] == [False, True]
    assert rows[0].source_file == "s1.md" and rows[0].notes == ["encoding guessed: gb18030"]
    assert rows[0].gradeflow_version


def _code_item(question_id: str, *blocks: tuple[str, str]) -> Item:
    """An answer of code blocks only, (language, code) each."""
    return Item(
        submission_id="s",
        question_id=question_id,
        text="",
        code_blocks=[CodeBlock(language=language, code=code) for language, code in blocks],
    )


def test_only_python_blocks_run_and_definitions_are_found() -> None:
    item = _code_item("1.1", ("cpp", "int lis();"), ("python", "lis = lambda n: 1"))
    assert python_code(item) == "lis = lambda n: 1"
    assert defines("lis = lambda n: 1", "lis")
    assert defines("class lis:\n    pass", "lis")
    assert not defines("def other():\n    lis = 1", "lis")


def test_task_code_leaves_out_illustrative_snippets_but_keeps_helpers() -> None:
    item = _code_item(
        "10.1",
        ("python", "loss.backward()\noptimizer.step()"),
        ("python", "import torch\nMAX_NORM = 1.0"),
        ("python", "def train(model):\n    return MAX_NORM"),
    )
    from pipeline.grading import task_code

    code = task_code(item, "train")
    assert "loss.backward()" not in code
    assert "MAX_NORM = 1.0" in code and "def train" in code


def test_task_code_keeps_everything_when_the_entrypoint_is_not_in_a_clean_block() -> None:
    item = _code_item(
        "1.1",
        ("python", "def lis(nums):\n    return helper(nums)\nprint(lis([1]))"),
        ("python", "x = broken("),
    )
    from pipeline.grading import task_code

    assert "print(lis([1]))" in task_code(item, "lis")


def test_review_kinds_are_recorded_most_urgent_first(exam: Exam) -> None:
    """Issue 13 item 4: item_scores carries the kind of every reason, not only the joined text."""
    item = Item(submission_id="s1", question_id="1.2", text="because")
    withheld = ReviewReason(kind=ReviewKind.EVIDENCE, detail="no evidence quoted; 2 point(s) withheld")
    judgment = Judgment(
        "s1",
        "1.2",
        {"why": CriterionAward(points=0.0, reason=withheld)},
        confidence=0.5,
        needs_review=True,
        review_reasons=[
            ReviewReason(kind=ReviewKind.LOW_CONFIDENCE, detail="confidence 0.50 below 0.75"),
            withheld.under("why: "),
        ],
    )
    result = grade_submission(exam, _submission(**{"1.2": item}), {"1.2": judgment}, {})
    row = next(r for r in result.items if r.question_id == "1.2")
    assert row.review_kind == "evidence"
    assert row.review_kinds == ["evidence", "low_confidence"]
    missing = next(r for r in result.items if r.question_id == "1.1")
    assert missing.review_kind is None and not missing.needs_review


def test_an_item_whose_judge_was_unavailable_makes_the_submission_incomplete(exam: Exam) -> None:
    """Never a silent zero, never 'scored': the item is unscored and the submission waits for the next run."""
    outage = "judge unavailable: no answer from http://judge/v1 for 5 s (cannot reach it)"
    reason = ReviewReason(kind=ReviewKind.JUDGE_UNAVAILABLE, detail=outage).under("call failed: ")
    item = Item(submission_id="s1", question_id="1.2", text="because")
    judgment = Judgment(
        "s1",
        "1.2",
        {"why": CriterionAward(points=None, reason=reason)},
        confidence=0.0,
        needs_review=True,
        review_reasons=[reason.under("why: unscored: ")],
        calls=[Call(error=reason.text)],
    )
    result = grade_submission(exam, _submission(**{"1.2": item}), {"1.2": judgment}, {})
    row = next(r for r in result.items if r.question_id == "1.2")
    assert row.raw_points is None
    assert row.review_kind == "judge_unavailable"
    assert [r.detail for r in result.reasons if r.kind is ReviewKind.JUDGE_UNAVAILABLE] == [outage, outage]
    assert result.submission.status == "incomplete"
    assert "1 item(s) wait for the judge" in result.submission.status_reason
