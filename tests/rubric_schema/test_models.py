"""Rubric validation: valid rubrics load; each broken rule is reported with file, path and reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rubric_schema import RubricError, load_exam

Q0 = "sections[0](id=s1).questions[0](id=1.1)"
"""Where the first question of a one-section factory exam sits, as errors name it."""


def problems_of(path: Path) -> list[tuple[str, str]]:
    """Load a rubric that must fail; check the error names the file; return (path, reason) pairs."""
    with pytest.raises(RubricError) as caught:
        load_exam(path)
    assert caught.value.file == path
    problems = caught.value.problems
    assert problems
    for where, reason in problems:
        assert f"{path}: {where or '<top>'}: {reason}" in str(caught.value)
    return problems


def only_problem(path: Path) -> tuple[str, str]:
    problems = problems_of(path)
    assert len(problems) == 1, problems
    return problems[0]


def top_k_question(rubric, **fields):
    return rubric.top_k_question(**fields)


# --- valid rubrics -------------------------------------------------------------------------------


def test_small_rubric_with_groups_bonus_and_code_loads(rubric):
    code = rubric.criterion("impl", 2, answer_kind="code", code={"task": "topk", "checks": ["correct", "complexity"]})
    question = top_k_question(rubric)
    question["criteria"].append(code)
    question["points"] = 10
    task = {
        "id": "topk",
        "question_id": "1.1",
        "entrypoint": "kth_largest",
        "signature": "def kth_largest(nums: list[int], k: int) -> int",
        "max_complexity_exponent": 1.3,
    }
    exam = load_exam(rubric.write(rubric.exam(question, code_tasks=[task])))

    q = exam.question("1.1")
    assert [c.id for c in q.all_criteria()] == [
        "complexity",
        "queries",
        "streaming",
        "impl",
        "sort-ok",
        "heap-ok",
        "qs-ok",
    ]
    assert q.bonus_points == 1
    assert q.expects_code
    assert q.groups[0].alternatives[1].points == 3
    assert exam.code_task("topk").max_complexity_exponent == 1.3
    assert exam.total_points == 10


def test_nested_sections_and_fractional_points_load(rubric):
    c = rubric.criterion
    q41 = rubric.question("4.1", 2.3, criteria=[c("a", 1.5), c("b", 0.5), c("c", 0.3, step=0.1)])
    q42 = rubric.question("4.2", 0.3, criteria=[c("x", 0.1, step=0.1), c("y", 0.2, step=0.1)])
    inner = rubric.section("s4", [q41, q42])
    outer = rubric.section("s2", [], sections=[inner], points=2.6)
    exam = load_exam(rubric.write(rubric.exam(sections=[outer])))
    assert [q.id for q in exam.questions] == ["4.1", "4.2"]
    assert exam.question("4.1").criterion("c").points == 0.3


def test_criteria_may_add_up_to_more_than_the_question(rubric):
    """Seed 9.2: criteria worth 5 under a 4-point question; the question cap applies when scoring."""
    c = rubric.criterion
    question = rubric.question(
        "9.2",
        4,
        criteria=[
            c("amp", 1.5),
            c("fp16", 1.5),
            c("ckpt", 1),
            c("metrics", 1, step=0.1, per_mention={"points_each": 0.3, "full_at": 3}),
        ],
    )
    exam = load_exam(rubric.write(rubric.exam(question)))
    assert exam.question("9.2").criterion("metrics").per_mention.full_at == 3


def test_json_rubric_loads(rubric):
    import json

    path = rubric.directory / "rubric.json"
    path.write_text(json.dumps(rubric.exam(rubric.question("1.1", 3))), encoding="utf-8")
    assert load_exam(path).question("1.1").points == 3


def test_unknown_question_lookup_lists_known_ids(rubric):
    exam = load_exam(rubric.write(rubric.exam(rubric.question("1.1", 3), rubric.question("1.2", 2))))
    with pytest.raises(KeyError, match=r"no question '9\.9' \(known: 1\.1, 1\.2\)"):
        exam.question("9.9")


# --- points that do not add up --------------------------------------------------------------------


def test_question_whose_criteria_fall_short_of_its_points(rubric):
    c = rubric.criterion
    question = rubric.question("1.1", 8, criteria=[c("a", 2), c("b", 3)])
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == Q0
    assert "criteria give at most 5 points but the question is worth 8" in reason


def test_section_whose_questions_do_not_add_up(rubric):
    section = rubric.section("s1", [rubric.question("1.1", 3), rubric.question("1.2", 4)], points=10)
    path, reason = only_problem(rubric.write(rubric.exam(sections=[section])))
    assert path == "sections[0](id=s1)"
    assert "section is worth 10 but its parts add up to 7" in reason


def test_nested_section_that_does_not_add_up_is_named_by_its_path(rubric):
    inner = rubric.section("s1a", [rubric.question("1.1", 3)], points=4)
    outer = rubric.section("s1", [], sections=[rubric.section("s1z", [rubric.question("1.2", 1)]), inner], points=5)
    path, reason = only_problem(rubric.write(rubric.exam(sections=[outer])))
    assert path == "sections[0](id=s1).sections[1](id=s1a)"
    assert "worth 4 but its parts add up to 3" in reason


def test_exam_total_that_does_not_add_up(rubric):
    path, reason = only_problem(rubric.write(rubric.exam(rubric.question("1.1", 8), total_points=100)))
    assert path == ""
    assert "total_points is 100 but the sections add up to 8" in reason


# --- duplicate ids ----------------------------------------------------------------------------------


def test_duplicate_criterion_ids_in_a_question(rubric):
    c = rubric.criterion
    path, reason = only_problem(rubric.write(rubric.exam(rubric.question("1.1", 4, criteria=[c("a", 2), c("a", 2)]))))
    assert path == Q0
    assert "duplicate ids inside the question: a" in reason


def test_criterion_id_reused_inside_a_group_alternative(rubric):
    question = top_k_question(rubric)
    question["criteria"][0]["id"] = "heap-ok"
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == Q0
    assert "duplicate ids inside the question: heap-ok" in reason


def test_duplicate_question_ids_across_sections(rubric):
    sections = [
        rubric.section("s1", [rubric.question("1.1", 3)]),
        rubric.section("s2", [rubric.question("1.1", 2)]),
    ]
    path, reason = only_problem(rubric.write(rubric.exam(sections=sections)))
    assert path == ""
    assert "duplicate question ids: 1.1" in reason


def test_duplicate_section_ids_even_when_nested(rubric):
    inner = rubric.section("s1", [rubric.question("1.2", 2)])
    outer = rubric.section("s1", [rubric.question("1.1", 3)], sections=[inner], points=5)
    path, reason = only_problem(rubric.write(rubric.exam(sections=[outer])))
    assert path == "sections"
    assert "duplicate section ids: s1" in reason


# --- code tasks ---------------------------------------------------------------------------------------


def code_exam(rubric, *, checks=("correct",), task_fields=None, task_question="1.1", ref="topk", **criterion_fields):
    fields = {"answer_kind": "code", "code": {"task": ref, "checks": list(checks)}, **criterion_fields}
    question = rubric.question("1.1", 2, criteria=[rubric.criterion("impl", 2, **fields)])
    task = {
        "id": "topk",
        "question_id": task_question,
        "entrypoint": "kth_largest",
        "signature": "def kth_largest(nums, k)",
        **(task_fields or {}),
    }
    return rubric.exam(question, code_tasks=[task])


def test_unknown_code_task_reference_names_question_criterion_and_declared_tasks(rubric):
    path, reason = only_problem(rubric.write(code_exam(rubric, ref="top_k")))
    assert path == ""
    assert "question 1.1, criterion 'impl': unknown code task 'top_k' (declared: topk)" in reason


def test_code_criterion_without_a_code_reference(rubric):
    question = rubric.question("1.1", 2, criteria=[rubric.criterion("impl", 2, answer_kind="code")])
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == f"{Q0}.criteria[0](id=impl)"
    assert "answer_kind 'code' needs a `code` reference" in reason


def test_text_criterion_with_a_code_reference(rubric):
    path, reason = only_problem(rubric.write(code_exam(rubric, answer_kind="text")))
    assert path == f"{Q0}.criteria[0](id=impl)"
    assert "needs answer_kind 'code' or 'both'" in reason


def test_complexity_check_needs_a_complexity_bound_on_the_task(rubric):
    path, reason = only_problem(rubric.write(code_exam(rubric, checks=["correct", "complexity"])))
    assert "code task 'topk' needs max_complexity_exponent" in reason


def test_speed_check_needs_a_speed_bound_on_the_task(rubric):
    path, reason = only_problem(rubric.write(code_exam(rubric, checks=["speed"])))
    assert "code task 'topk' needs max_speed_ratio" in reason


def test_code_task_for_an_unknown_question(rubric):
    path, reason = only_problem(rubric.write(code_exam(rubric, task_question="7.7")))
    assert "code task 'topk' names unknown question '7.7'" in reason


def test_unknown_check_name_is_named_with_its_path(rubric):
    path, reason = only_problem(rubric.write(code_exam(rubric, checks=["fast"])))
    assert path == f"{Q0}.criteria[0](id=impl).code.checks[0]"
    assert "'correct', 'complexity' or 'speed'" in reason


# --- choice groups ------------------------------------------------------------------------------------


def methods_exam(rubric, *, pick=2, cap=5, points=(2, 3, 3), **group_fields):
    c = rubric.criterion
    alternatives = [rubric.alternative(f"m{i}", c(f"m{i}-ok", p)) for i, p in enumerate(points, start=1)]
    group = rubric.group("methods", pick=pick, cap=cap, alternatives=alternatives, **group_fields)
    return rubric.exam(rubric.question("1.1", cap, groups=[group]))


def test_unreachable_group_cap(rubric):
    path, reason = only_problem(rubric.write(methods_exam(rubric, cap=7)))
    assert path == f"{Q0}.groups[0](id=methods)"
    assert re.search(r"cap 7(\.0)? is unreachable: the best 2 alternatives give 6(\.0)?", reason)


def test_pick_more_than_the_alternatives(rubric):
    path, reason = only_problem(rubric.write(methods_exam(rubric, pick=4, cap=5)))
    assert path == f"{Q0}.groups[0](id=methods)"
    assert "pick 4 exceeds the 3 alternatives" in reason


@pytest.mark.parametrize("answered", [0, 2, 3])
def test_caps_when_fewer_out_of_range(rubric, answered):
    path, reason = only_problem(rubric.write(methods_exam(rubric, caps_when_fewer={answered: 4})))
    assert path == f"{Q0}.groups[0](id=methods)"
    assert f"caps_when_fewer key {answered} must be between 1 and pick-1 (1)" in reason


def test_caps_when_fewer_in_range_loads(rubric):
    exam = load_exam(
        rubric.write(methods_exam(rubric, pick=2, cap=7, points=(3.5, 3.5, 3.5, 3.5), caps_when_fewer={1: 4}))
    )
    assert exam.question("1.1").groups[0].caps_when_fewer == {1: 4}


def test_bonus_inside_an_alternative_is_rejected(rubric):
    data = methods_exam(rubric)
    data["sections"][0]["questions"][0]["groups"][0]["alternatives"][0]["criteria"][0]["bonus"] = True
    path, reason = only_problem(rubric.write(data))
    assert path == f"{Q0}.groups[0](id=methods)"
    assert "alternative 'm1': bonus criteria belong to the question" in reason


# --- single fields ------------------------------------------------------------------------------------


def test_step_larger_than_points(rubric):
    question = rubric.question("9.2", 0.3, criteria=[rubric.criterion("metric", 0.3)])
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == "sections[0](id=s1).questions[0](id=9.2).criteria[0](id=metric)"
    assert "step 0.5 is larger than points 0.3" in reason


@pytest.mark.parametrize("step", [0.0000001, 0.001, 0])
def test_a_step_finer_than_a_hundredth_is_rejected(rubric, step):
    question = rubric.question("1.1", 2, criteria=[rubric.criterion("a", 2, step=step)])
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == f"{Q0}.criteria[0](id=a).step"


def test_more_than_a_thousand_grade_levels_is_rejected(rubric):
    question = rubric.question("1.1", 20, criteria=[rubric.criterion("a", 20, step=0.01)])
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == f"{Q0}.criteria[0](id=a)"
    assert "makes 2,001 grade levels of 20 points, over the limit of 1,000" in reason


def test_a_thousand_grade_levels_load(rubric):
    question = rubric.question("1.1", 9.99, criteria=[rubric.criterion("a", 9.99, step=0.01)])
    assert load_exam(rubric.write(rubric.exam(question))).question("1.1").criteria[0].step == 0.01


@pytest.mark.parametrize(("field", "value"), [("points", True), ("points", "2"), ("step", False)])
def test_points_are_strict_numbers(rubric, field, value):
    fields = {"points": 2, field: value}
    question = rubric.question("1.1", 2, criteria=[rubric.criterion("a", **fields)])
    problems = problems_of(rubric.write(rubric.exam(question)))
    assert f"{Q0}.criteria[0](id=a).{field}" in [p for p, _ in problems]


def test_a_group_pick_of_true_is_rejected(rubric):
    path, reason = only_problem(rubric.write(methods_exam(rubric, pick=True)))
    assert path == f"{Q0}.groups[0](id=methods).pick"
    assert "valid integer" in reason


def test_points_with_more_than_two_decimals_are_rejected(rubric):
    question = rubric.question("1.1", 2.125, criteria=[rubric.criterion("a", 2.125, step=0.125)])
    problems = problems_of(rubric.write(rubric.exam(question)))
    assert any("2.125 has more than two decimals" in reason for _, reason in problems)


def test_a_huge_title_is_rejected(rubric):
    question = rubric.question("1.1", 2, criteria=[rubric.criterion("a", 2, title="t" * 10_001)])
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == f"{Q0}.criteria[0](id=a).title"
    assert "at most 10000 characters" in reason


def test_a_60_mb_rubric_file_is_refused_before_it_is_parsed(rubric):
    path = rubric.write(rubric.exam(rubric.question("1.1", 2)))
    path.write_text(path.read_text(encoding="utf-8") + f"\n# {'x' * 60_000_000}\n", encoding="utf-8")
    where, reason = only_problem(path)
    assert reason.startswith("file is 60,") and "over the limit of 10,000,000" in reason


DEEP_INDENT = "a:\n" + "".join(" " * n + "b:\n" for n in range(2, 900, 2))


@pytest.mark.parametrize("deep", ["[" * 10_000 + "]" * 10_000, DEEP_INDENT])
def test_deeply_nested_rubric_is_a_clear_error(tmp_path, deep):
    path = tmp_path / "rubric.yaml"
    path.write_text(deep, encoding="utf-8")
    where, reason = only_problem(path)
    assert where == "" and "over the limit of 200" in reason


def test_wrong_type_names_the_field(rubric):
    question = rubric.question("1.1", 2, criteria=[rubric.criterion("a", "two")])
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == f"{Q0}.criteria[0](id=a).points"
    assert "valid number" in reason


def test_misspelt_field_is_rejected_not_ignored(rubric):
    question = rubric.question("1.1", 2)
    question["bonus_may_exced_max"] = True
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == f"{Q0}.bonus_may_exced_max"
    assert "Extra inputs are not permitted" in reason


def test_every_problem_is_reported_not_only_the_first(rubric):
    c = rubric.criterion
    bad_step = rubric.question("1.1", 0.3, criteria=[c("a", 0.3)])
    short = rubric.question("1.2", 8, criteria=[c("b", 2)])
    problems = problems_of(rubric.write(rubric.exam(bad_step, short)))
    assert [p for p, _ in problems] == [f"{Q0}.criteria[0](id=a)", "sections[0](id=s1).questions[1](id=1.2)"]


# --- files that are no rubric -------------------------------------------------------------------------


def test_bad_yaml(tmp_path):
    path = tmp_path / "rubric.yaml"
    path.write_text("id: x\nsections: [\n  - id: s1\n", encoding="utf-8")
    where, reason = only_problem(path)
    assert where == ""
    assert reason.startswith("not valid yaml:")


def test_bad_json(tmp_path):
    path = tmp_path / "rubric.json"
    path.write_text('{"id": "x",', encoding="utf-8")
    assert only_problem(path)[1].startswith("not valid json:")


@pytest.mark.parametrize("text", ["- id: x\n- id: y\n", "just words\n", ""])
def test_top_level_must_be_a_mapping(tmp_path, text):
    path = tmp_path / "rubric.yaml"
    path.write_text(text, encoding="utf-8")
    assert only_problem(path) == ("", "expected a mapping at the top of the file")


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    where, reason = only_problem(path)
    assert reason.startswith("cannot read the file:")
    assert "No such file" in reason


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "rubric.yaml"
    path.write_bytes("id: 考试\n".encode("utf-16"))
    assert only_problem(path)[1].startswith("cannot read the file:")


def test_unquoted_question_id_in_yaml_is_an_error_not_a_float(tmp_path, rubric):
    """`id: 1.10` in YAML is the float 1.1; the rubric must say so rather than match question 1.1."""
    text = rubric.write(rubric.exam(rubric.question("1.10", 2))).read_text(encoding="utf-8")
    path = tmp_path / "unquoted.yaml"
    path.write_text(text.replace("id: '1.10'", "id: 1.10"), encoding="utf-8")
    where, reason = only_problem(path)
    assert where == f"{Q0}.id"
    assert "valid string" in reason


# --- question ids (issue 13 item 5) ---------------------------------------------------------------


@pytest.mark.parametrize("question_id", ["1.1", "Q1", "A.2", "os-q1", "task_3", "10", "B"])
def test_a_users_own_question_ids_are_accepted(rubric, question_id):
    exam = load_exam(rubric.write(rubric.exam(rubric.question(question_id, 2))))
    assert [q.id for q in exam.questions] == [question_id]


@pytest.mark.parametrize("question_id", ["Q 1", "1/2", "", "题1", "q1!"])
def test_ids_with_other_characters_are_refused_naming_the_question(rubric, question_id):
    question = rubric.question(question_id, 2, criteria=[rubric.criterion("all", 2)])
    path, reason = only_problem(rubric.write(rubric.exam(question)))
    assert path == f"sections[0](id=s1).questions[0](id={question_id}).id"
    assert "should match pattern" in reason or "at least 1 character" in reason


def test_question_ids_that_differ_only_in_case_are_refused(rubric):
    path, reason = only_problem(rubric.write(rubric.exam(rubric.question("Q1", 2), rubric.question("q1", 2))))
    assert path == ""
    assert "question ids that differ only in case: Q1, q1" in reason
