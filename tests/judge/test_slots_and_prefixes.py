"""Issue 19: lanes pinned to server slots, prompt tokens against their floor, prefix states across rounds.

The fake server below keeps each slot's last prompt and computes only what follows the longest common
prefix with it, as llama-server's prompt cache does (one character is one token here), and saves or
restores a slot's prompt as --slot-save-path files.
"""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest
from judge_fakes import make_item

from pipeline.judge import Judge, JudgeCache, JudgeSettings, LabelReply
from pipeline.judge._prefix_states import STATE_SUFFIX
from rubric_schema import Question


def _common(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


class SlotServer:
    """A llama-server stand-in: per-slot prompt cache, /tokenize, slot save and restore."""

    model = "fake-llama"

    def __init__(self, directory: Path, *, slots: int = 2, restore_takes: bool = True, pinned: bool = True):
        self.slots = slots
        self.directory = directory
        self.restore_takes = restore_takes
        self.pinned = pinned
        """False: the server ignores the slot asked for and picks one at random (no id_slot support)."""
        self.cache: dict[int, str] = {}
        self.calls: list[tuple[int, str]] = []
        self.evaluated = 0
        self._lock = threading.Lock()
        self._random = random.Random(0)

    def build(self) -> str:
        return "b1"

    def token_count(self, text: str) -> int:
        return len(text)

    def distribution(self, messages, *, labels, seed, slot=None) -> LabelReply:
        prompt = "".join(m["content"] for m in messages)
        with self._lock:
            used = slot if self.pinned and slot is not None else self._random.randrange(self.slots)
            cached = _common(self.cache.get(used, ""), prompt)
            self.cache[used] = prompt
            self.calls.append((used, prompt))
            self.evaluated += len(prompt) - cached
        probabilities = dict.fromkeys(labels, 0.0) | {labels[-1]: 1.0}
        return LabelReply(
            probabilities=probabilities, coverage=1.0, tokens_in=len(prompt), cached_tokens=cached,
            evaluated_tokens=len(prompt) - cached,
        )  # fmt: skip

    def slot_state(self, slot: int, action: str, filename: str) -> bool:
        path = self.directory / filename
        if action == "save":
            path.write_text(self.cache.get(slot, ""), encoding="utf-8")
            return True
        if not path.is_file():
            return False
        if self.restore_takes:
            self.cache[slot] = path.read_text(encoding="utf-8")
        return True


def _questions(n: int) -> list[Question]:
    return [
        Question.model_validate(
            {
                "id": f"q{k}", "title": f"Question {k}", "language": "en", "points": 4,
                "prompt": f"Explain topic {k} " + "in detail, " * 30,
                "criteria": [
                    {"id": "a", "title": "First", "points": 2, "earns_points_for": f"names part A of topic {k}"},
                    {"id": "b", "title": "Second", "points": 2, "earns_points_for": f"names part B of topic {k}"},
                ],
            }
        )  # fmt: skip
        for k in range(n)
    ]


def _pairs(questions: list[Question], per_question: int) -> list[tuple[Question, object]]:
    # Submission order: every candidate answers every question, as a round's items come.
    return [
        (q, make_item(q, f"candidate {c} says something about {q.id}", submission_id=f"s{c}"))
        for c in range(per_question)
        for q in questions
    ]


def _judge(server: SlotServer, tmp_path: Path, **settings) -> Judge:
    settings.setdefault("concurrency", 2)
    config = JudgeSettings(
        cache_dir=tmp_path / "cache", mode="distribution", screen_meaning=False, prefix_state_dir=server.directory,
        **settings,
    )  # fmt: skip
    return Judge(server, config, cache=JudgeCache(config.cache_dir))  # type: ignore[arg-type]


def _evaluated_and_floor(judgments) -> tuple[int, int]:
    calls = [c for j in judgments for c in j.calls if not c.cache_hit]
    prefixes = {c.prefix_sha: c.prefix_tokens for c in calls}
    return sum(c.tokens_evaluated for c in calls), sum(c.tokens_floor for c in calls) + sum(prefixes.values())


def test_each_lane_keeps_to_one_slot_and_one_question_at_a_time(tmp_path):
    server = SlotServer(tmp_path)
    judge = _judge(server, tmp_path, prefix_states=False)
    questions = _questions(4)
    judge.judge_items(_pairs(questions, 5))
    by_question: dict[str, set[int]] = {}
    for slot, prompt in server.calls:
        question = next(q.id for q in questions if f"Question {q.id[1:]}" in prompt)
        by_question.setdefault(question, set()).add(slot)
    assert all(len(slots) == 1 for slots in by_question.values())  # a question never moves between slots
    assert {s for slots in by_question.values() for s in slots} == {0, 1}


def test_pinned_lanes_evaluate_no_more_than_the_floor_and_unpinned_ones_do(tmp_path):
    pairs = _pairs(_questions(6), 6)
    pinned = SlotServer(tmp_path / "pinned")
    evaluated, floor = _evaluated_and_floor(_judge(pinned, tmp_path / "a", prefix_states=False).judge_items(pairs))
    assert evaluated == pinned.evaluated  # the calls' rows add up to what the server computed
    assert evaluated <= floor  # each prefix once per question (the system prompt is shared across questions)
    scattered = SlotServer(tmp_path / "scattered", pinned=False)
    unpinned, floor_again = _evaluated_and_floor(  # one lane: the server's (seeded) picks are the same every run
        _judge(scattered, tmp_path / "b", prefix_states=False, concurrency=1).judge_items(pairs)
    )
    assert floor_again == floor
    assert unpinned > 1.1 * floor  # the control: calls that land on the slot another question held evaluate again


def test_a_cached_round_evaluates_nothing_and_claims_no_floor(tmp_path):
    server = SlotServer(tmp_path)
    judge = _judge(server, tmp_path, prefix_states=False)
    pairs = _pairs(_questions(2), 3)
    judge.judge_items(pairs)
    again = judge.judge_items(pairs)
    assert all(c.cache_hit for j in again for c in j.calls)
    assert all(c.prefix_sha is None and c.tokens_floor == 0 for j in again for c in j.calls)


def test_a_second_round_restores_the_saved_prefixes_and_scores_the_same(tmp_path):
    states = tmp_path / "states"
    states.mkdir()
    questions = _questions(3)
    first_server = SlotServer(states)
    first = _judge(first_server, tmp_path / "r1").judge_items(_pairs(questions, 4))
    assert len(list(states.glob(f"*{STATE_SUFFIX}"))) == 3  # one saved prefix per question
    second_server = SlotServer(states)  # a new server: empty slots; a new judge cache: every call is made
    second_judge = _judge(second_server, tmp_path / "r2")
    second = second_judge.judge_items(_pairs(questions, 4))
    assert second_judge.prefixes is not None and second_judge.prefixes.stats.restored == 3
    assert [j.awards for j in second] == [j.awards for j in first]
    evaluated_first, _ = _evaluated_and_floor(first)
    evaluated_second, _ = _evaluated_and_floor(second)
    answers_and_asks = sum(c.tokens_floor for j in second for c in j.calls)
    assert evaluated_second <= answers_and_asks < evaluated_first  # no prefix was computed again


def test_a_restore_that_does_not_take_is_dropped_and_the_run_evaluates_as_before(tmp_path):
    states = tmp_path / "states"
    states.mkdir()
    questions = _questions(2)
    _judge(SlotServer(states), tmp_path / "r1").judge_items(_pairs(questions, 3))
    broken = SlotServer(states, restore_takes=False)  # says it restored, restores nothing
    judge = _judge(broken, tmp_path / "r2", concurrency=1)  # one lane: the questions come one after the other
    judgments = judge.judge_items(_pairs(questions, 3))
    assert judge.prefixes is not None and judge.prefixes.stats.failed == 1 and judge.prefixes.stats.restored == 0
    assert all(a.points is not None for j in judgments for a in j.awards.values())
    # The state that did not take is gone; the next question's was not tried (restoring is off for the run).
    assert len(list(states.glob(f"*{STATE_SUFFIX}"))) == 1


@pytest.mark.parametrize("bound_mib, kept", [(0, 0), (2048, 3)])
def test_saved_prefixes_stay_within_their_bound(tmp_path, bound_mib, kept):
    states = tmp_path / "states"
    states.mkdir()
    _judge(SlotServer(states), tmp_path, prefix_state_max_mib=bound_mib).judge_items(_pairs(_questions(3), 2))
    assert len(list(states.glob(f"*{STATE_SUFFIX}"))) == kept
