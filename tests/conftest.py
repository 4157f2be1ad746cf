"""Shared fixtures: small rubrics built in the test, so each test shows the rule it pins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SEED_RUBRIC = REPO / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"


class RubricFactory:
    """Builds rubric data as plain dicts (what a YAML file holds) and writes it to files.

    Sections and the exam total are summed from the questions, so a test states only what it is about.
    """

    def __init__(self, directory: Path):
        self.directory = directory

    @staticmethod
    def criterion(criterion_id: str, points: float, **fields: Any) -> dict[str, Any]:
        """Build a criterion with the required judge material filled in."""
        return {
            "id": criterion_id,
            "title": f"criterion {criterion_id}",
            "points": points,
            "earns_points_for": f"what earns {criterion_id}",
            **fields,
        }

    @staticmethod
    def alternative(alternative_id: str, *criteria: dict[str, Any]) -> dict[str, Any]:
        """One way of answering inside a choice group."""
        return {"id": alternative_id, "title": f"alternative {alternative_id}", "criteria": list(criteria)}

    @staticmethod
    def group(
        group_id: str, *, pick: int, cap: float, alternatives: list[dict[str, Any]], **fields: Any
    ) -> dict[str, Any]:
        """Build a best-k-of-n choice group."""
        return {
            "id": group_id,
            "title": f"group {group_id}",
            "pick": pick,
            "cap": cap,
            "alternatives": alternatives,
            **fields,
        }

    @staticmethod
    def question(
        question_id: str,
        points: float,
        *,
        criteria: list[dict[str, Any]] | None = None,
        groups: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Build a question; criteria default to one worth all its points."""
        if criteria is None and groups is None:
            criteria = [RubricFactory.criterion(f"q{question_id}-all", points)]
        return {
            "id": question_id,
            "title": f"question {question_id}",
            "prompt": f"prompt of {question_id}",
            "points": points,
            "criteria": criteria or [],
            "groups": groups or [],
            **fields,
        }

    @staticmethod
    def section(section_id: str, questions: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        """Build a section worth the sum of its questions unless `points` is given."""
        points = fields.pop("points", sum(q["points"] for q in questions))
        return {
            "id": section_id,
            "title": f"section {section_id}",
            "points": points,
            "questions": questions,
            **fields,
        }

    def exam(
        self, *questions: dict[str, Any], sections: list[dict[str, Any]] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Build an exam of one section holding `questions` (or of the given sections)."""
        sections = sections if sections is not None else [self.section("s1", list(questions))]
        total = fields.pop("total_points", sum(s["points"] for s in sections))
        return {
            "id": "test-exam",
            "title": "Test exam",
            "total_points": total,
            "sections": sections,
            **fields,
        }

    def top_k_question(
        self, question_id: str = "1.1", *, extra: tuple[dict[str, Any], ...] = (), **fields: Any
    ) -> dict[str, Any]:
        """Seed 1.1 in small: best two of three methods (2/3/3, cap 5), complexity 2, queries 1, bonus +1;
        `extra` criteria go before the bonus.
        """
        c = self.criterion
        methods = self.group(
            "methods",
            pick=2,
            cap=5,
            alternatives=[
                self.alternative("sort", c("sort-ok", 2)),
                self.alternative("heap", c("heap-ok", 3)),
                self.alternative("quickselect", c("qs-ok", 3)),
            ],
        )
        criteria = [c("complexity", 2), c("queries", 1), *extra, c("streaming", 1, bonus=True)]
        return self.question(question_id, 8, criteria=criteria, groups=[methods], **fields)

    def write(self, data: Any, name: str = "rubric.yaml") -> Path:
        """Write rubric data as YAML; returns the path."""
        path = self.directory / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path


@pytest.fixture
def rubric(tmp_path: Path) -> RubricFactory:
    """Give a factory of small rubrics that writes into the test's own directory."""
    return RubricFactory(tmp_path)


@pytest.fixture
def seed_rubric() -> Path:
    """Give the seed exam as data; skip until eval_sets/ai-engineer-mid/rubric.yaml exists."""
    if not SEED_RUBRIC.exists():
        pytest.skip(f"{SEED_RUBRIC.relative_to(REPO)} is not written yet")
    return SEED_RUBRIC
