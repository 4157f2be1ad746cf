"""Fixtures for the judge's unit tests: small questions and a Judge on a fake chat model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # judge_fakes, with --import-mode=importlib

from judge_fakes import FakeChat, Responder  # noqa: E402

from pipeline.judge import Judge, JudgeCache, JudgeSettings  # noqa: E402
from rubric_schema import Question  # noqa: E402


@pytest.fixture
def question() -> Question:
    """Two text criteria, a per-mention one, a code one (not judged) and a bonus."""
    return Question.model_validate(
        {
            "id": "1.1",
            "title": "Top-K",
            "prompt": "Find the k-th largest element; give two methods and their complexity.",
            "language": "en",
            "points": 6,
            "criteria": [
                {"id": "heap", "title": "Min-heap method", "points": 2, "step": 0.5,
                 "earns_points_for": "keeps a min-heap of size k",
                 "reference": "a heap of size k, O(n log k)"},
                {"id": "complexity", "title": "Complexity", "points": 2, "step": 1,
                 "earns_points_for": "correct time complexity for each method"},
                {"id": "metrics", "title": "Metrics", "points": 1, "step": 0.1,
                 "per_mention": {"points_each": 0.3, "full_at": 3}, "earns_points_for": "names metrics"},
                {"id": "code", "title": "Code", "points": 1, "answer_kind": "code",
                 "code": {"task": "topk"}, "earns_points_for": "working code"},
                {"id": "stream", "title": "Streaming", "points": 1, "bonus": True,
                 "earns_points_for": "a streaming approach"},
            ],
        }
    )  # fmt: skip


@pytest.fixture
def zh_question() -> Question:
    return Question.model_validate(
        {
            "id": "2.1",
            "title": "线性表",
            "prompt": "若频繁地对一个线性表进行插入和删除操作，该线性表宜采用何种存储结构，为什么？",
            "language": "zh",
            "points": 10,
            "criteria": [
                {"id": "holistic", "title": "整体", "points": 10, "step": 1,
                 "earns_points_for": "与参考答案一致", "reference": "链式存储结构，插入删除不需移动元素。"},
            ],
        }
    )  # fmt: skip


@pytest.fixture
def make_judge(tmp_path):
    """Build a Judge on a FakeChat with a fresh cache; settings overridable."""

    def build(respond: Responder, **settings: Any) -> tuple[Judge, FakeChat]:
        delay = settings.pop("delay_s", 0.0)
        fake = FakeChat(respond, delay_s=delay, distribute=settings.pop("distribute", None))
        settings.setdefault("mode", "item")
        settings.setdefault("screen_meaning", False)  # the screen's patterns only: tests/judge/test_intent.py reads
        config = JudgeSettings(cache_dir=tmp_path / "cache", **settings)
        return Judge(fake, config, cache=JudgeCache(config.cache_dir)), fake

    return build
