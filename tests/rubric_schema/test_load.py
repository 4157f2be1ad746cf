"""Rubric files as data: the JSON Schema export and the content hashes."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from rubric_schema import exam_json_schema, exam_sha, load_exam, question_sha


def sample_exam(rubric):
    c = rubric.criterion
    methods = rubric.group(
        "methods",
        pick=2,
        cap=7,
        caps_when_fewer={1: 4},
        alternatives=[
            rubric.alternative(f"m{i}", c(f"m{i}-idea", 1.5), c(f"m{i}-cost", 1), c(f"m{i}-tradeoff", 1))
            for i in range(1, 5)
        ],
    )
    q32 = rubric.question("3.2", 7, groups=[methods], language="zh")
    code = c(
        "impl",
        2,
        answer_kind="both",
        code={"task": "topk", "checks": ["correct", "complexity"]},
        reference="用大小为 k 的最小堆",
        grading_notes="只写排序给一半",
    )
    q11 = rubric.question("1.1", 2, criteria=[code, c("bonus", 1, bonus=True)], bonus_may_exceed_max=True)
    task = {
        "id": "topk",
        "question_id": "1.1",
        "entrypoint": "kth_largest",
        "signature": "def kth_largest(nums: list[int], k: int) -> int",
        "max_complexity_exponent": 1.3,
    }
    return rubric.exam(q11, q32, code_tasks=[task])


def as_json_file_data(data):
    """Round-trip through JSON as a rubric file would: mapping keys become strings (1 → "1")."""
    return json.loads(json.dumps(data))


def test_json_schema_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(exam_json_schema())


def test_json_schema_accepts_a_valid_rubric_file(rubric):
    data = sample_exam(rubric)
    load_exam(rubric.write(data))  # the model accepts it too
    validator = jsonschema.Draft202012Validator(exam_json_schema())
    assert list(validator.iter_errors(as_json_file_data(data))) == []


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        (lambda d: d.pop("sections"), "sections"),
        (lambda d: d["sections"][0]["questions"][0]["criteria"][0].update(points="two"), "points"),
        (
            lambda d: d["sections"][0]["questions"][0]["criteria"][0].update(answer_kind="video"),
            "answer_kind",
        ),
        (lambda d: d["sections"][0]["questions"][0].update(id="Q 1"), "id"),
        (lambda d: d["sections"][0].update(extra_field=1), "extra_field"),
    ],
    ids=[
        "no-sections",
        "points-not-a-number",
        "unknown-answer-kind",
        "question-id-with-a-space",
        "extra-field",
    ],
)
def test_json_schema_rejects_a_broken_rubric(rubric, breakage, field):
    data = as_json_file_data(sample_exam(rubric))
    breakage(data)
    errors = list(jsonschema.Draft202012Validator(exam_json_schema()).iter_errors(data))
    assert errors, f"schema accepted a rubric with a broken {field}"
    assert any(field in e.absolute_path or field in e.message for e in errors), [e.message for e in errors]


def test_exam_sha_is_stable_under_reformatting(rubric, tmp_path):
    data = sample_exam(rubric)
    block = rubric.write(data, "block.yaml")
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "# the same rubric, other layout\n"
        + yaml.safe_dump(data, default_flow_style=True, sort_keys=True, width=60),
        encoding="utf-8",
    )
    as_json = tmp_path / "rubric.json"
    as_json.write_text(json.dumps(data, indent=1, ensure_ascii=True), encoding="utf-8")
    shas = {exam_sha(load_exam(p)) for p in (block, flow, as_json)}
    assert len(shas) == 1
    assert len(shas.pop()) == 64


def test_exam_sha_changes_with_content_and_question_sha_only_for_that_question(rubric):
    data = sample_exam(rubric)
    before = load_exam(rubric.write(data, "before.yaml"))
    data["sections"][0]["questions"][1]["groups"][0]["alternatives"][0]["criteria"][0]["reference"] = (
        "稀疏注意力"
    )
    after = load_exam(rubric.write(data, "after.yaml"))
    assert exam_sha(before) != exam_sha(after)
    assert question_sha(before.question("3.2")) != question_sha(after.question("3.2"))
    assert question_sha(before.question("1.1")) == question_sha(after.question("1.1"))


def test_exam_sha_changes_with_points(rubric):
    data = sample_exam(rubric)
    before = exam_sha(load_exam(rubric.write(data, "before.yaml")))
    data["sections"][0]["questions"][0]["criteria"][1]["points"] = 0.5
    assert exam_sha(load_exam(rubric.write(data, "after.yaml"))) != before


def test_code_tasks_point_at_the_module_next_to_the_rubric_and_the_hash_ignores_where(rubric, tmp_path):
    data = sample_exam(rubric)
    here = load_exam(rubric.write(data))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "tasks.py").write_text("TASKS = []\n", encoding="utf-8")
    moved = load_exam(rubric.write(data | {"code_tasks_module": "../tasks.py"}, name="elsewhere/rubric.yaml"))
    assert here.code_tasks[0].module == tmp_path / "code_tasks.py"
    assert moved.code_tasks[0].module == tmp_path / "tasks.py"
    assert exam_sha(here) == exam_sha(moved)
