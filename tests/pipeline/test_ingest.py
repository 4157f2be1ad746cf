"""Splitting submissions into items: headings, code fences, JSON/JSONL, files that are no submission."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.ingest import (
    CodeBlock,
    Item,
    SubmissionRejected,
    read_file,
    split_code,
    split_file,
    split_markdown,
    split_round,
)

IDS = ["1.1", "1.2", "2.1", "3.2", "9.2", "10.1"]


def split(text: str, question_ids: list[str] = IDS):
    return split_markdown(text, source="sheet.md", submission_id="s1", question_ids=question_ids)


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def rejection(path: Path, **kwargs) -> str:
    """Return why a file is rejected, checking that the message names the file."""
    with pytest.raises(SubmissionRejected) as caught:
        split_file(path, IDS, **kwargs)
    assert caught.value.source_file == str(path)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value.reason


# --- markdown headings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "## 1.1",
        "### 题目1.1",
        "Q1.1",
        "Q1.1:",
        "Q1.1：",
        "第1.1题",
        "第 1.1 题",
        "**1.1**",
        "__1.1__",
        "Question 1.1",
        "question 1.1",
        "Problem 1.1",
        "问题1.1",
        "## 题目 1.1",
        "# 1.1.",
        "1.1:",
        "1.1)",
        "1.1．",
    ],
)
def test_heading_styles_without_a_title(heading):
    submission = split(f"{heading}\n用最小堆，维护 k 个元素\n\n## 1.2\n动态规划")
    assert list(submission.items) == ["1.1", "1.2"]
    assert submission.items["1.1"].text == "用最小堆，维护 k 个元素"
    assert submission.items["1.2"].text == "动态规划"
    assert submission.unmatched_text == ""


@pytest.mark.parametrize(
    ("heading", "title"),
    [
        ("1.1、Top-K问题", "Top-K问题"),
        ("**1.1 Top-K**", "Top-K"),
        ("1.1 标题", "标题"),
        ("## Q1.1 Top-K", "Top-K"),
        ("### 第1.1题：Top-K", "Top-K"),
        ("**Q1.1：** 用堆", "用堆"),
        ("1.1 - Top-K", "Top-K"),
        ("## 1.1 Top-K ##", "Top-K"),
        ("#### 1.1 Top-K问题 (8分)", "Top-K问题 (8分)"),
        ("1.1 复杂度 O(n log k)", "复杂度 O(n log k)"),
        ("1.1 用 C#", "用 C#"),
    ],
)
def test_heading_line_text_is_kept_as_the_start_of_the_answer(heading, title):
    submission = split(f"{heading}\n正文")
    assert submission.items["1.1"].text == f"{title}\n正文"


def test_two_digit_question_numbers():
    submission = split("## 1.1\na\n## 10.1\nfix the loop")
    assert submission.items["10.1"].text == "fix the loop"


def test_headings_inside_code_fences_are_code_not_questions():
    text = "## 1.1\n解释\n```python\n## 1.2\nx = 1\n```\n~~~\n# 2.1\n~~~\n## 1.2\nanswer"
    submission = split(text)
    assert submission.items["1.1"].code_blocks == [
        CodeBlock(language="python", code="## 1.2\nx = 1"),
        CodeBlock(language="", code="# 2.1"),
    ]
    assert submission.items["1.2"].text == "answer"
    assert "2.1" in submission.missing


@pytest.mark.parametrize("line", ["2.1倍的加速", "速度提升了 2.1倍", "3.2倍"])
def test_numbers_in_prose_are_not_headings(line):
    submission = split(f"## 1.1\n{line}\n结论")
    assert submission.items["1.1"].text == f"{line}\n结论"
    assert "2.1" not in submission.items and "3.2" not in submission.items


def test_unknown_number_after_a_heading_stays_in_that_answer():
    submission = split("## 1.1\nheap\n## 11.5 extra\nmore\n## 1.2\ndp")
    assert submission.items["1.1"].text == "heap\n## 11.5 extra\nmore"
    assert submission.unmatched_text == ""


def test_unknown_number_before_any_heading_is_unmatched():
    submission = split("姓名：张三\n## 11.5\nstray\n## 1.1\nheap")
    assert submission.unmatched_text == "姓名：张三\n## 11.5\nstray"
    assert list(submission.items) == ["1.1"]


def test_deeper_numbering_is_not_its_parent_question():
    submission = split("## 1.1\n### 1.1.1 方法一\n排序\n### 1.1.2 方法二\n堆")
    assert submission.items["1.1"].text == "### 1.1.1 方法一\n排序\n### 1.1.2 方法二\n堆"


def test_items_follow_exam_order_and_missing_ones_are_listed():
    submission = split("## 3.2\nflash\n## 1.1\nheap")
    assert list(submission.items) == ["1.1", "3.2"]
    assert submission.missing == ["1.2", "2.1", "9.2", "10.1"]
    assert submission.duplicates == []


def test_heading_with_nothing_under_it_is_missing():
    submission = split("## 1.1\n\n## 1.2\n  \n## 2.1\nuf")
    assert list(submission.items) == ["2.1"]
    assert submission.missing[:2] == ["1.1", "1.2"]


def test_duplicated_question_is_joined_in_order_and_flagged():
    submission = split("## 1.1\nfirst\n## 1.2\ndp\n## 1.1\nsecond\n```python\ncode()\n```")
    assert submission.duplicates == ["1.1"]
    item = submission.items["1.1"]
    assert item.text == "first\n\nsecond"
    assert item.code == "code()"


def test_text_without_any_heading_is_all_unmatched():
    submission = split("I do not know the answers.")
    assert submission.items == {}
    assert submission.missing == IDS
    assert submission.unmatched_text == "I do not know the answers."


# --- front matter -------------------------------------------------------------------------------------


def test_front_matter_sets_the_candidate_id_and_may_repeat_the_submission_id():
    submission = split("---\nsubmission_id: s1\ncandidate_id: cand-42\n---\n## 1.1\nheap")
    assert (submission.submission_id, submission.candidate_id) == ("s1", "cand-42")
    assert submission.items["1.1"].submission_id == "s1"
    assert submission.unmatched_text == ""


def test_front_matter_cannot_change_the_submission_id():
    with pytest.raises(SubmissionRejected) as caught:
        split("---\nsubmission_id: r1-007\n---\n## 1.1\nheap")
    assert caught.value.reason.startswith("claims submission_id 'r1-007' but its file name makes it 's1'")


def test_without_front_matter_the_ids_come_from_the_caller():
    submission = split("## 1.1\nheap")
    assert (submission.submission_id, submission.candidate_id) == ("s1", "s1")


def test_front_matter_that_is_not_a_mapping_is_left_as_text():
    submission = split("---\n- just\n- a list\n---\n## 1.1\nheap")
    assert submission.submission_id == "s1"
    assert "- just" in submission.unmatched_text


# --- code blocks --------------------------------------------------------------------------------------


def test_backtick_and_tilde_fences_with_language_tags():
    text, blocks = split_code("先排序\n```Python\nnums.sort()\n```\n再取\n~~~~ c++\nstd::sort(a, a+n);\n~~~~\n结束")
    assert text == "先排序\n再取\n结束"
    assert blocks == [
        CodeBlock(language="python", code="nums.sort()"),
        CodeBlock(language="c++", code="std::sort(a, a+n);"),
    ]


def test_unclosed_fence_runs_to_the_end():
    text, blocks = split_code("解释\n```python\ndef f():\n    return 1\n")
    assert text == "解释"
    assert blocks == [CodeBlock(language="python", code="def f():\n    return 1")]


def test_unclosed_fence_swallows_later_headings():
    submission = split("## 1.1\n```python\nx = 1\n## 1.2\ny = 2")
    assert submission.items["1.1"].code == "x = 1\n## 1.2\ny = 2"
    assert "1.2" in submission.missing


def test_empty_code_blocks_are_dropped():
    assert split_code("a\n```\n\n```\nb") == ("a\nb", [])


def test_item_kind_code_and_answer():
    submission = split(
        "## 1.1\n```python\ndef kth_largest(nums, k):\n    return sorted(nums)[-k]\n```\n"
        "## 1.2\n```py\na = 1\n```\n说明\n```py\nb = 2\n```\n## 2.1\n只有文字"
    )
    code_only, mixed, text_only = (submission.items[q] for q in ("1.1", "1.2", "2.1"))
    assert (code_only.kind, mixed.kind, text_only.kind) == ("code", "mixed", "text")
    assert mixed.code == "a = 1\n\nb = 2"
    assert mixed.answer == "说明\n\n```py\na = 1\n```\n\n```py\nb = 2\n```"
    assert text_only.code == ""


def test_item_is_frozen():
    item = Item(submission_id="s", question_id="1.1", text="t")
    with pytest.raises(ValueError):
        item.text = "changed"


# --- JSON and JSONL -----------------------------------------------------------------------------------


def test_json_submission(tmp_path):
    record = {
        "submission_id": "j1",
        "candidate_id": "c1",
        "answers": {"1.1": "最小堆\n```python\nimport heapq\n```", "3.2": "flash attention", "99.9": "??"},
    }
    [submission] = split_file(write(tmp_path, "j1.json", json.dumps(record, ensure_ascii=False)), IDS)
    assert (submission.submission_id, submission.candidate_id) == ("j1", "c1")
    assert list(submission.items) == ["1.1", "3.2"]
    assert submission.items["1.1"].text == "最小堆"
    assert submission.items["1.1"].code == "import heapq"
    assert submission.unmatched_text == "[99.9] ??"
    assert submission.missing == ["1.2", "2.1", "9.2", "10.1"]


def test_json_submission_id_other_than_the_file_name_is_rejected(tmp_path):
    reason = rejection(write(tmp_path, "any-name.json", '{"submission_id": "j1", "answers": {"1.1": "a"}}'))
    assert reason.startswith("claims submission_id 'j1' but its file name makes it 'any-name'")


def test_json_ids_default_to_the_file_stem(tmp_path):
    [submission] = split_file(write(tmp_path, "alice.json", '{"answers": {"1.1": "heap"}}'), IDS)
    assert (submission.submission_id, submission.candidate_id) == ("alice", "alice")


def test_json_suffix_in_capitals_is_still_json(tmp_path):
    [submission] = split_file(write(tmp_path, "bob.JSON", '{"answers": {"1.1": "heap"}}'), IDS)
    assert submission.items["1.1"].text == "heap"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"answers": {"1.1": 42, "1.2": "ok"}}', "answers must be text; not text for 1.1"),
        ('{"answers": {"1.1": null}}', "not text for 1.1"),
        ('{"answers": {"1.1": ["a", "b"]}}', "not text for 1.1"),
        ('{"answers": ["heap"]}', 'expected an object with an "answers" mapping'),
        ('["heap"]', 'expected an object with an "answers" mapping'),
        ('{"submission_id": "x"}', 'expected an object with an "answers" mapping'),
        ('{"answers": {"1.1": "heap"}', "not valid JSON"),
    ],
)
def test_bad_json_is_rejected_with_the_file_named(tmp_path, content, expected):
    assert expected in rejection(write(tmp_path, "bad.json", content))


def test_jsonl_submissions(tmp_path):
    lines = [{"submission_id": "a", "answers": {"1.1": "heap"}}, {}, {"answers": {"1.2": "dp", "x": "?"}}]
    content = "\n".join("" if not line else json.dumps(line) for line in lines)
    first, second = split_file(write(tmp_path, "batch.jsonl", content), IDS)
    assert (first.submission_id, list(first.items)) == ("a", ["1.1"])
    assert (second.submission_id, list(second.items)) == ("batch-3", ["1.2"])
    assert second.source_file == f"{tmp_path / 'batch.jsonl'}:3"
    assert second.unmatched_text == "[x] ?"


def test_jsonl_bad_line_is_named_by_number(tmp_path):
    content = '{"answers": {"1.1": "a"}}\n{"answers": {"1.1": "b"}}\n{"answers": oops}\n'
    with pytest.raises(SubmissionRejected) as caught:
        split_file(write(tmp_path, "batch.jsonl", content), IDS)
    assert caught.value.reason.startswith("line 3: not valid JSON")
    assert caught.value.source_file == f"{tmp_path / 'batch.jsonl'}:3"


def test_one_broken_jsonl_line_rejects_that_line_only(tmp_path):
    content = '{"answers": {"1.1": "a"}}\n{"answers": oops}\n{"answers": {"1.1": 1}}\n{"answers": {"1.2": "d"}}\n'
    submissions, rejected = read_file(write(tmp_path, "batch.jsonl", content), IDS)
    assert [s.submission_id for s in submissions] == ["batch-1", "batch-4"]
    assert [(Path(r.source_file).name, r.reason.split(":")[0]) for r in rejected] == [
        ("batch.jsonl:2", "line 2"),
        ("batch.jsonl:3", "line 3"),
    ]


def test_the_size_cap_applies_per_jsonl_line_not_to_the_file(tmp_path):
    line = json.dumps({"answers": {"1.1": "x" * 60}})
    content = "\n".join([line] * 5 + [json.dumps({"answers": {"1.1": "y" * 500}})] + [line]) + "\n"
    submissions, rejected = read_file(write(tmp_path, "batch.jsonl", content), IDS, max_bytes=200)
    assert len(content) > 200
    assert [s.submission_id for s in submissions] == [f"batch-{n}" for n in (1, 2, 3, 4, 5, 7)]
    assert [r.reason for r in rejected] == ["line 6: over the limit of 200 bytes per line"]


def test_jsonl_non_text_answer_names_the_line(tmp_path):
    content = '{"answers": {"1.1": "a"}}\n{"answers": {"1.1": 1}}\n'
    with pytest.raises(SubmissionRejected) as caught:
        split_file(write(tmp_path, "batch.jsonl", content), IDS)
    assert caught.value.source_file.endswith("batch.jsonl:2")


def test_jsonl_lines_sharing_a_submission_id_are_all_rejected(tmp_path):
    content = '{"submission_id": "a", "answers": {}}\n{"submission_id": "b", "answers": {}}\n'
    content += '{"submission_id": "a", "answers": {}}\n'
    submissions, rejected = read_file(write(tmp_path, "batch.jsonl", content), IDS)
    assert [s.submission_id for s in submissions] == ["b"]
    assert [r.reason for r in rejected] == ["lines 1, 3 share submission_id 'a'"] * 2


# --- files that are no submission ---------------------------------------------------------------------


def test_empty_file(tmp_path):
    assert rejection(write(tmp_path, "empty.md", "")) == "file is empty"


def test_whitespace_only_file(tmp_path):
    assert rejection(write(tmp_path, "blank.md", " \n\t\n  \r\n")) == "file is empty"


def test_binary_file(tmp_path):
    assert "binary" in rejection(write(tmp_path, "image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))


def test_oversized_file_with_a_configurable_limit(tmp_path):
    path = write(tmp_path, "long.md", "## 1.1\n" + "堆" * 100)
    assert rejection(path, max_bytes=100) == f"file is {path.stat().st_size:,} bytes, over the limit of 100"
    assert split_file(path, IDS, max_bytes=1000)[0].items["1.1"]


def test_bytes_no_encoding_reads_are_rejected(tmp_path):
    reason = rejection(write(tmp_path, "noise.md", bytes(range(128, 256)) * 3))
    assert reason == "file is not text in any encoding that could be detected"


def test_windows_1252_german_is_decoded_as_german(tmp_path):
    text = "## 1.1\nMan benutzt einen Min-Heap der Größe k; für große Eingaben ist das schneller als Sortieren.\n"
    [submission] = split_file(write(tmp_path, "de.md", text.encode("cp1252")), IDS)
    assert submission.items["1.1"].text == text.split("\n")[1]
    assert submission.notes == []


def test_utf16_with_a_byte_order_mark_is_decoded(tmp_path):
    [submission] = split_file(write(tmp_path, "u16.md", "## 1.1\nheap der Größe k 最小堆".encode("utf-16")), IDS)
    assert submission.items["1.1"].text == "heap der Größe k 最小堆"


def test_an_encoding_guessed_with_low_confidence_is_noted_for_review(tmp_path):
    [submission] = split_file(write(tmp_path, "short.md", "## 1.1\nGrüße".encode("cp1252")), IDS)
    [note] = submission.notes
    assert "low confidence" in note and "check the text" in note


def test_gb18030_chinese_is_accepted(tmp_path):
    path = write(tmp_path, "gbk.md", "## 1.1\n使用最小堆，复杂度 O(n log k)\n".encode("gb18030"))
    assert split_file(path, IDS)[0].items["1.1"].text == "使用最小堆，复杂度 O(n log k)"


def test_utf8_byte_order_mark_does_not_hide_the_first_heading(tmp_path):
    path = write(tmp_path, "bom.md", "\ufeff## 1.1\nheap".encode())
    assert split_file(path, IDS)[0].items["1.1"].text == "heap"


def test_file_that_does_not_exist(tmp_path):
    assert rejection(tmp_path / "gone.md").startswith("cannot read")


# --- a round ------------------------------------------------------------------------------------------


def test_a_file_name_is_its_identity_and_a_claim_on_another_is_rejected_with_both_names(tmp_path):
    real = write(tmp_path, "cand-01-strong.md", "## 1.1\nthe real answer")
    write(tmp_path, "aaa-x.md", "---\nsubmission_id: cand-01-strong\n---\n## 1.1\nimpostor")
    write(tmp_path, "aab.json", '{"submission_id": "cand-01-strong", "answers": {"1.1": "impostor"}}')
    write(tmp_path, "batch.jsonl", '{"submission_id": "cand-01-strong", "answers": {"1.1": "impostor"}}\n')

    submissions, rejected = split_round(tmp_path, IDS)

    assert [(s.submission_id, s.items["1.1"].text) for s in submissions] == [("cand-01-strong", "the real answer")]
    assert sorted(Path(r.source_file).name for r in rejected) == ["aaa-x.md", "aab.json", "batch.jsonl:1"]
    assert all("'cand-01-strong'" in r.reason and str(real) in r.reason for r in rejected)


def test_two_claims_on_an_id_no_file_owns_reject_both(tmp_path):
    write(tmp_path, "a.jsonl", '{"submission_id": "x", "answers": {"1.1": "one"}}\n')
    write(tmp_path, "b.jsonl", '{"submission_id": "x", "answers": {"1.1": "two"}}\n')
    write(tmp_path, "c.md", "## 1.1\nfine")
    write(tmp_path, "c.txt", "## 1.1\nsame stem")
    submissions, rejected = split_round(tmp_path, IDS)
    assert submissions == []
    by_name = {Path(r.source_file).name: r.reason for r in rejected}
    assert by_name["a.jsonl:1"] == f"submission_id 'x' is also claimed by {tmp_path / 'b.jsonl'}:1"
    assert by_name["b.jsonl:1"] == f"submission_id 'x' is also claimed by {tmp_path / 'a.jsonl'}:1"
    assert by_name["c.md"] == f"submission_id 'c' is also claimed by {tmp_path / 'c.txt'}"


def test_files_in_nested_folders_are_read_with_their_path_as_id(tmp_path):
    write(tmp_path, "x.md", "## 1.1\ntop")
    (tmp_path / "batch2" / "late").mkdir(parents=True)
    write(tmp_path / "batch2", "x.md", "## 1.1\nbatch two")
    write(tmp_path / "batch2" / "late", "y.json", '{"answers": {"1.1": "late"}}')
    write(tmp_path / "batch2", "scan.pdf", "%PDF")
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".git", "HEAD", "ref")
    submissions, rejected = split_round(tmp_path, IDS)
    assert [(s.submission_id, s.items["1.1"].text) for s in submissions] == [
        ("batch2/late/y", "late"),
        ("batch2/x", "batch two"),
        ("x", "top"),
    ]
    assert [(r.source_file, r.reason) for r in rejected] == [
        (str(tmp_path / "batch2" / "scan.pdf"), "unsupported file type '.pdf'")
    ]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("deep.json", "[" * 400_000, "JSON nested 400,000 levels deep, over the limit of 64"),
        ("deep.jsonl", '{"answers": {"1.1": "ok"}}\n' + "[" * 100_000 + "\n", "line 2: JSON nested 100,000"),
        ("deep.md", "---\na: " + "[" * 10_000 + "\n---\n## 1.1\nx", "front matter is nested too deeply"),
        ("long.md", "---\n" + "a: b\n" * 5000 + "---\n## 1.1\nx", "front matter is 25,003 characters"),
    ],
)
def test_deep_nesting_rejects_the_file_not_the_round(tmp_path, name, content, reason):
    write(tmp_path, name, content)
    write(tmp_path, "ok.md", "## 1.1\nheap")
    submissions, rejected = split_round(tmp_path, IDS)
    assert "ok" in [s.submission_id for s in submissions]
    assert [r.reason[: len(reason)] for r in rejected] == [reason]


def test_any_error_inside_one_files_parse_is_that_files_rejection(tmp_path, monkeypatch):
    import pipeline.ingest._split as split_module

    def broken(*_args, **_kwargs):
        raise ValueError("parser bug")

    monkeypatch.setattr(split_module, "_sections", broken)
    write(tmp_path, "a.md", "## 1.1\nheap")
    write(tmp_path, "b.json", '{"answers": {"1.1": "heap"}}')
    submissions, rejected = split_round(tmp_path, IDS)
    assert [s.submission_id for s in submissions] == ["b"]
    assert [r.reason for r in rejected] == ["could not be read: ValueError: parser bug"]


def test_round_records_bad_files_and_goes_on(tmp_path):
    write(tmp_path, "a.md", "## 1.1\nheap")
    write(tmp_path, "b.md", "")
    write(tmp_path, "c.json", '{"answers": {"1.2": 3}}')
    write(tmp_path, "d.pdf", "%PDF-1.4")
    write(tmp_path, "e.txt", "---\nsubmission_id: a\n---\n## 2.1\nuf")  # takes a.md's id
    write(
        tmp_path,
        "f.jsonl",
        '{"submission_id": "f1", "answers": {"3.2": "flash"}}\n{"submission_id": "f2", "answers": {"9.2": "amp"}}',
    )
    write(tmp_path, ".DS_Store", b"\x00\x01")
    (tmp_path / "notes").mkdir()

    submissions, rejected = split_round(tmp_path, IDS)

    assert [s.submission_id for s in submissions] == ["a", "f1", "f2"]
    assert [(Path(r.source_file).name, r.reason) for r in rejected] == [
        ("b.md", "file is empty"),
        ("c.json", "answers must be text; not text for 1.2"),
        ("d.pdf", "unsupported file type '.pdf'"),
        (
            "e.txt",
            f"claims submission_id 'a' but its file name makes it 'e': the file name is the id; {tmp_path / 'a.md'}"
            " is that file",
        ),
    ]


def test_round_passes_the_size_limit_on(tmp_path):
    write(tmp_path, "big.md", "## 1.1\n" + "x" * 200)
    write(tmp_path, "small.md", "## 1.1\nheap")
    submissions, rejected = split_round(tmp_path, IDS, max_bytes=100)
    assert [s.submission_id for s in submissions] == ["small"]
    assert "over the limit of 100" in rejected[0].reason


# --- a user's own question ids (issue 13 item 5) -----------------------------------------------------

OWN_IDS = ["Q1", "Q2", "Q10", "A.2", "os-q1", "1", "B"]


@pytest.mark.parametrize(
    ("heading", "question_id"),
    [
        ("## Q1", "Q1"),
        ("Q1: heap", "Q1"),
        ("## q10", "Q10"),
        ("**A.2**", "A.2"),
        ("A.2 用堆", "A.2"),
        ("### OS-Q1 scheduling", "os-q1"),
        ("## 1", "1"),
        ("Question 1", "1"),
        ("## B", "B"),
        ("第1题", "1"),
    ],
)
def test_headings_match_any_id_in_any_case(heading, question_id):
    submission = split(f"{heading}\nthe answer", OWN_IDS)
    assert list(submission.items) == [question_id]
    assert submission.items[question_id].text.endswith("the answer")


@pytest.mark.parametrize("line", ["1. first point", "B is the answer", "A.2.1 a sub-point", "Q1x", "Q100 text"])
def test_list_items_and_words_are_not_headings_of_bare_ids(line):
    submission = split(f"## Q2\nintro\n{line}\nmore", OWN_IDS)
    assert list(submission.items) == ["Q2"]
    assert submission.items["Q2"].text == f"intro\n{line}\nmore"


def test_q10_is_not_read_as_q1():
    submission = split("## Q10\nten\n## Q1\none", OWN_IDS)
    assert submission.items["Q10"].text == "ten" and submission.items["Q1"].text == "one"


# --- `gradeflow split` on hostile files (issue 21 item 2) ---------------------------------------------


@pytest.fixture
def two_question_rubric(rubric):
    return rubric.write(rubric.exam(rubric.question("1.1", 2), rubric.question("1.2", 2)))


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("deep.json", "[" * 400_000, "JSON nested 400,000 levels deep"),
        ("deep.md", "---\na: " + "{" * 10_000 + "\n---\n## 1.1\nx", "front matter is nested too deeply"),
    ],
)
def test_split_on_deep_nesting_is_a_clear_error_not_a_traceback(two_question_rubric, tmp_path, name, content, reason):
    from typer.testing import CliRunner

    from gradeflow_cli import app

    sheet = write(tmp_path, name, content)
    result = CliRunner().invoke(app, ["split", str(two_question_rubric), str(sheet)], env={"COLUMNS": "400"})
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"error: {sheet}: {reason}" in result.stderr
    assert "Traceback" not in result.output


def test_split_shows_the_good_jsonl_lines_and_names_the_broken_one(two_question_rubric, tmp_path):
    from typer.testing import CliRunner

    from gradeflow_cli import app

    sheet = write(tmp_path, "b.jsonl", '{"answers": {"1.1": "heap"}}\n{oops\n')
    result = CliRunner().invoke(
        app, ["split", str(two_question_rubric), str(sheet), "--summary"], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "b-1: 1 items; missing 1.2"
    assert f"rejected {sheet}:2: line 2: not valid JSON" in result.stderr


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_jsonl_file_is_rejected(tmp_path, content):
    assert rejection(write(tmp_path, "empty.jsonl", content)) == "file is empty"
