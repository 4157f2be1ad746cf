"""`gradeflow validate`, `schema` and `split` driven through typer's CliRunner."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from typer.testing import CliRunner

from gradeflow_cli import app
from rubric_schema import exam_sha, load_exam

WIDE = {"COLUMNS": "400"}
"""Rich wraps at the terminal width; a wide one keeps paths and messages on one line."""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def small_rubric(rubric):
    c = rubric.criterion
    q11 = rubric.question(
        "1.1",
        4,
        criteria=[
            c("explain", 2),
            c("impl", 2, answer_kind="code", code={"task": "topk"}),
            c("streaming", 1, bonus=True),
        ],
    )
    q12 = rubric.question("1.2", 6)
    task = {
        "id": "topk",
        "question_id": "1.1",
        "entrypoint": "kth_largest",
        "signature": "def kth_largest(nums, k)",
    }
    return rubric.write(rubric.exam(q11, q12, code_tasks=[task]))


def test_validate_lists_questions_and_totals(runner, small_rubric):
    result = runner.invoke(app, ["validate", str(small_rubric)], env=WIDE)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if re.search(r"│\s*1\.[12]\s*│", line)]
    assert len(rows) == 2
    assert re.search(r"1\.1\s*│.*│\s*4\s*│\s*1\s*│\s*3\s*│\s*topk", rows[0])
    sha = exam_sha(load_exam(small_rubric))[:12]
    assert f"2 questions, 10 points (+1 bonus), 1 code tasks; rubric sha {sha}" in result.stdout


def test_validate_the_seed_rubric(runner, seed_rubric):
    result = runner.invoke(app, ["validate", str(seed_rubric)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "18 questions, 100 points" in result.stdout


def test_validate_broken_rubric_names_file_and_field(runner, rubric):
    c = rubric.criterion
    path = rubric.write(rubric.exam(rubric.question("1.1", 8, criteria=[c("a", 2)])))
    result = runner.invoke(app, ["validate", str(path)], env=WIDE)
    assert result.exit_code == 1
    assert (
        f"{path}: sections[0](id=s1).questions[0](id=1.1): Value error, criteria give at most 2 points but "
        "the question is worth 8"
    ) in result.stdout
    assert f"error: {path} is not a valid rubric (1 problem(s))" in result.stderr


def test_validate_missing_file(runner, tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")], env=WIDE)
    assert result.exit_code == 1
    assert f"{tmp_path / 'nope.yaml'}: <top>: cannot read the file" in result.stdout


def test_schema_prints_a_valid_json_schema(runner):
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "Exam"
    assert {"id", "title", "total_points", "sections"} <= set(schema["required"])


SHEET = "---\ncandidate_id: cand-7\n---\n姓名：李四\n## 1.1\n用最小堆\n```python\nimport heapq\n```\n"


def test_split_prints_a_table_and_what_is_missing(runner, small_rubric, tmp_path):
    sheet = tmp_path / "s7.md"
    sheet.write_text(SHEET, encoding="utf-8")
    result = runner.invoke(app, ["split", str(small_rubric), str(sheet)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "s7 (candidate cand-7)" in result.stdout
    assert re.search(r"│\s*1\.1\s*│\s*mixed\s*│\s*4\s*│\s*1\s*│\s*用最小堆", result.stdout)
    assert "missing 1.2" in result.stdout
    assert "5 chars unmatched" in result.stdout


def test_split_json_output(runner, small_rubric, tmp_path):
    sheet = tmp_path / "s7.md"
    sheet.write_text(SHEET, encoding="utf-8")
    result = runner.invoke(app, ["split", str(small_rubric), str(sheet), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["submission_id"] == "s7"
    assert payload["items"]["1.1"]["code_blocks"] == [{"language": "python", "code": "import heapq"}]
    assert payload["missing"] == ["1.2"]
    assert payload["unmatched_text"] == "姓名：李四"


def test_split_jsonl_json_output_is_a_list(runner, small_rubric, tmp_path):
    sheet = tmp_path / "batch.jsonl"
    sheet.write_text('{"answers": {"1.1": "heap"}}\n{"answers": {"1.2": "dp"}}\n', encoding="utf-8")
    result = runner.invoke(app, ["split", str(small_rubric), str(sheet), "--json"])
    assert result.exit_code == 0, result.output
    assert [s["submission_id"] for s in json.loads(result.stdout)] == ["batch-1", "batch-2"]


def test_split_summary(runner, small_rubric, tmp_path):
    sheet = tmp_path / "s8.md"
    sheet.write_text("## 1.1\na\n## 1.1\nb\n", encoding="utf-8")
    result = runner.invoke(app, ["split", str(small_rubric), str(sheet), "--summary"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "s8: 1 items; missing 1.2; duplicated 1.1"


@pytest.mark.parametrize(("content", "reason"), [(b"", "file is empty"), (b"\x00\x01\x02", "binary")])
def test_split_rejected_file_exits_1_naming_it(runner, small_rubric, tmp_path, content, reason):
    sheet = tmp_path / "bad.md"
    sheet.write_bytes(content)
    result = runner.invoke(app, ["split", str(small_rubric), str(sheet)], env=WIDE)
    assert result.exit_code == 1
    assert f"error: {sheet}: " in result.stderr
    assert reason in result.stderr


def test_split_with_a_broken_rubric_exits_1(runner, rubric, tmp_path):
    path = rubric.write({"id": "x"})
    sheet = tmp_path / "s.md"
    sheet.write_text("## 1.1\na", encoding="utf-8")
    result = runner.invoke(app, ["split", str(path), str(sheet)], env=WIDE)
    assert result.exit_code == 1
    assert "is not a valid rubric" in result.stderr


def test_validate_errors_are_never_hard_wrapped_on_a_narrow_terminal(runner, rubric):
    """Issue 13 item 5: each problem stays on one line, path and reason whole, whatever the width."""
    c = rubric.criterion
    exam = rubric.exam(rubric.question("os-q1", 8, criteria=[c("a", 2)]))
    path = rubric.write(exam, name="a-long-name-" * 4 + ".yaml")
    result = runner.invoke(app, ["validate", str(path)], env={"COLUMNS": "40"})
    assert result.exit_code == 1
    line = (
        f"{path}: sections[0](id=s1).questions[0](id=os-q1): Value error, criteria give at most 2 points but "
        "the question is worth 8"
    )
    assert line in result.stdout.splitlines()
    assert f"error: {path} is not a valid rubric (1 problem(s))" in result.stderr.splitlines()
