"""Pydantic models of an exam rubric: Exam → Section → Question → Criterion.

Every model is frozen: a rubric is validated once at the boundary and then trusted.
Points are decimals with at most two places (0.3, 1.5); sums are compared with a tolerance.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from rubric_schema._key_points import MAX_KEY_POINTS, enumerated_points

POINT_TOLERANCE = 1e-6
"""Two point sums closer than this are equal (0.1 + 0.2 is not 0.3 in floats)."""

MIN_STEP = 0.01
"""Finest grading step: points have at most two decimals."""
MAX_GRADE_LEVELS = 1000
"""Most distinct awards one criterion may have (points / step + 1): the judge holds a distribution over them."""
MAX_TITLE_CHARS = 10_000
"""Titles are a line; ten thousand characters is far past any real one."""
MAX_TEXT_CHARS = 200_000
"""Prompts, reference answers and grading notes: a long reference is a few thousand characters."""


def _two_decimals(value: float) -> float:
    """Points are decimals with at most two places (the judge's grid and the reports' rounding rest on it)."""
    if abs(value * 100 - round(value * 100)) > 1e-6 * max(1.0, value):
        raise ValueError(f"{value!r} has more than two decimals")
    return value


Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Points = Annotated[float, Field(ge=0, le=1000, strict=True), AfterValidator(_two_decimals)]
"""A strict number (`true` is no point), 0 to 1000, at most two decimals."""
Step = Annotated[float, Field(ge=MIN_STEP, le=1000, strict=True), AfterValidator(_two_decimals)]
Count = Annotated[int, Field(ge=1, strict=True)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS)]
LongText = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
PythonName = Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
AnswerKind = Literal["text", "code", "both"]
CodeCheckName = Literal["correct", "complexity", "speed"]


def points_equal(a: float, b: float) -> bool:
    """Compare point sums with the rubric's tolerance."""
    return math.isclose(a, b, abs_tol=POINT_TOLERANCE)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class CodeRef(_Frozen):
    """Which code task a criterion is checked by, and which of its checks must pass."""

    task: Identifier
    """Id of a code task declared in `Exam.code_tasks`."""
    checks: list[CodeCheckName] = Field(default_factory=lambda: ["correct"], min_length=1)
    """The checks the criterion rests on."""
    award: Literal["share", "all"] = "share"
    """share: each passed check earns an equal share; all: the points need every check (correct O(n^2) code
    earns nothing of an "O(n log n) solution" criterion)."""


class PerMention(_Frozen):
    """Points per distinct valid mention (e.g. 0.3 for each monitoring metric named)."""

    points_each: Points = Field(gt=0)
    """Points for each distinct mention the judge counts."""
    full_at: Count | None = None
    """With this many mentions the criterion earns its full points (the seed's "at least three")."""


class Criterion(_Frozen):
    """One thing that earns points, with what the judge needs to decide it."""

    id: Identifier
    title: Title
    """Short name shown in reports, e.g. "复杂度分析正确"."""
    points: Points = Field(gt=0)
    """Most points this criterion can earn."""
    step: Step = 0.5
    """Granularity of awarded points; a judge may only award multiples of it (or the max); at least 0.01
    and at most `MAX_GRADE_LEVELS` awards per criterion."""
    answer_kind: AnswerKind = "text"
    """Where the evidence is expected: prose, code, or either."""
    code: CodeRef | None = None
    """Code task that checks this criterion; required for answer_kind "code"."""
    per_mention: PerMention | None = None
    """Award by counting distinct mentions instead of judging quality."""
    bonus: bool = False
    """Bonus points: not part of the question's max, added on top of it."""
    earns_points_for: LongText = Field(min_length=1)
    """What an answer must show to earn the points (the judge's main instruction)."""
    reference: LongText = ""
    """Reference answer text condensed from the answer key."""
    grading_notes: LongText = ""
    """Partial credit, common mistakes, what not to reward."""
    key_points: list[Annotated[LongText, Field(min_length=1)]] = Field(
        default_factory=list, max_length=MAX_KEY_POINTS
    )
    """What earns the points, one checkable statement each, worth equal shares; empty: the judge uses
    the key points `earns_points_for` enumerates, if any (`Criterion.judged_key_points`)."""

    @property
    def judged_key_points(self) -> list[str]:
        """The key points a judge may decide one by one: the listed ones, else those the text enumerates."""
        if self.per_mention is not None:
            return []
        return list(self.key_points) or enumerated_points(self.earns_points_for)

    @model_validator(mode="after")
    def _consistent(self) -> Criterion:
        if self.key_points and self.per_mention is not None:
            raise ValueError("a per-mention criterion is counted, not split into key points")
        if len(self.key_points) == 1:
            raise ValueError("one key point is the criterion itself: list two or more, or none")
        if self.answer_kind == "code" and self.code is None:
            raise ValueError("answer_kind 'code' needs a `code` reference to a code task")
        if self.answer_kind == "text" and self.code is not None:
            raise ValueError("a `code` reference needs answer_kind 'code' or 'both'")
        if self.step > self.points + POINT_TOLERANCE:
            raise ValueError(f"step {self.step} is larger than points {self.points}")
        levels = math.floor(self.points / self.step + POINT_TOLERANCE) + 1
        if levels > MAX_GRADE_LEVELS:
            raise ValueError(
                f"step {self.step:g} makes {levels:,} grade levels of {self.points:g} points, over the limit of "
                f"{MAX_GRADE_LEVELS:,}: use a coarser step"
            )
        return self


class Alternative(_Frozen):
    """One way of answering inside a best-k-of-n group (e.g. "方法二：最小堆")."""

    id: Identifier
    title: Title
    criteria: list[Criterion] = Field(min_length=1)

    @property
    def points(self) -> float:
        """Most points this alternative can earn."""
        return sum(c.points for c in self.criteria)


class ChoiceGroup(_Frozen):
    """Best k of n alternatives: the k highest-scoring alternatives count, capped."""

    id: Identifier
    title: Title
    pick: Count
    """How many alternatives count (k)."""
    cap: Points = Field(gt=0)
    """Most points the group earns in all."""
    caps_when_fewer: dict[int, Points] = Field(default_factory=dict)
    """Cap when only this many alternatives earned points (seed 3.2: one method → at most 4)."""
    alternatives: list[Alternative] = Field(min_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> ChoiceGroup:
        if self.pick > len(self.alternatives):
            raise ValueError(f"pick {self.pick} exceeds the {len(self.alternatives)} alternatives")
        best_k = sum(sorted((a.points for a in self.alternatives), reverse=True)[: self.pick])
        if self.cap > best_k + POINT_TOLERANCE:
            raise ValueError(
                f"cap {self.cap} is unreachable: the best {self.pick} alternatives give {best_k}"
            )
        for answered in self.caps_when_fewer:
            if not 1 <= answered < self.pick:
                raise ValueError(
                    f"caps_when_fewer key {answered} must be between 1 and pick-1 ({self.pick - 1})"
                )
        for alternative in self.alternatives:
            if any(c.bonus for c in alternative.criteria):
                raise ValueError(f"alternative {alternative.id!r}: bonus criteria belong to the question")
        return self


class Question(_Frozen):
    """One exam question with its criteria, choice groups and bonus."""

    id: Identifier
    """As the exam names it ("1.1", "Q1", "A.2", "os-q1": letters, digits, `.`, `-`, `_`); submission headings
    are matched to it, letters in either case, and reports order ids naturally ("Q2" before "Q10")."""
    title: Title
    prompt: LongText = Field(min_length=1)
    """The question as the candidate saw it."""
    points: Points = Field(gt=0)
    """Question maximum, bonus excluded."""
    language: Literal["zh", "en"] = "zh"
    criteria: list[Criterion] = Field(default_factory=list)
    groups: list[ChoiceGroup] = Field(default_factory=list)
    bonus_may_exceed_max: bool = False
    """Whether bonus points may lift the question above `points`."""

    @model_validator(mode="after")
    def _points_add_up(self) -> Question:
        if not self.criteria and not self.groups:
            raise ValueError("a question needs at least one criterion or choice group")
        regular = sum(c.points for c in self.criteria if not c.bonus) + sum(g.cap for g in self.groups)
        if regular + POINT_TOLERANCE < self.points:
            raise ValueError(
                f"criteria give at most {regular:g} points but the question is worth {self.points:g}"
            )
        ids = [c.id for c in self.all_criteria()] + [g.id for g in self.groups]
        ids += [a.id for g in self.groups for a in g.alternatives]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate ids inside the question: {', '.join(duplicates)}")
        return self

    def all_criteria(self) -> list[Criterion]:
        """Every criterion, flat: direct ones, then each group's alternatives in order."""
        nested = [c for g in self.groups for a in g.alternatives for c in a.criteria]
        return [*self.criteria, *nested]

    def criterion(self, criterion_id: str) -> Criterion:
        """Look a criterion up by id; KeyError names the question."""
        for c in self.all_criteria():
            if c.id == criterion_id:
                return c
        raise KeyError(f"question {self.id} has no criterion {criterion_id!r}")

    @property
    def bonus_points(self) -> float:
        """Most bonus points on offer."""
        return sum(c.points for c in self.criteria if c.bonus)

    @property
    def expects_code(self) -> bool:
        """Whether any criterion can be earned with code."""
        return any(c.answer_kind != "text" for c in self.all_criteria())


class CodeTask(_Frozen):
    """A code task the executors check: the candidate-facing contract and the reference to compare with."""

    id: Identifier
    question_id: Identifier
    entrypoint: PythonName
    """Name of the function or class the candidate's code must define."""
    aliases: list[PythonName] = Field(default_factory=list)
    """Other names the callable may have (`find_kth_largest`); without any of them, the executors look for
    the one public function or class whose parameters fit the reference's."""
    signature: Title
    """Shown to candidates, e.g. "def kth_largest(nums: list[int], k: int) -> int"."""
    description: LongText = ""
    max_complexity_exponent: float | None = Field(default=None, gt=0)
    """The "complexity" check passes when the fitted log-time/log-n slope is at most this."""
    max_speed_ratio: float | None = Field(default=None, gt=0)
    """The "speed" check passes when candidate time / reference time is at most this."""
    module: SkipJsonSchema[Path | None] = Field(default=None, exclude=True)
    """The exam's code-task module (trials, reference, judge), an absolute path that `load_exam` fills in
    from `Exam.code_tasks_module`; not part of the rubric's content hash."""


class Section(_Frozen):
    """A part of the exam ("一、算法与数据结构进阶"); sections nest, questions sit at any level."""

    id: Identifier
    title: Title
    points: Points = Field(gt=0)
    sections: list[Section] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)

    @model_validator(mode="after")
    def _points_add_up(self) -> Section:
        children = sum(s.points for s in self.sections) + sum(q.points for q in self.questions)
        if not points_equal(children, self.points):
            raise ValueError(f"section is worth {self.points:g} but its parts add up to {children:g}")
        return self

    def all_questions(self) -> list[Question]:
        """Questions in exam order, depth first."""
        return [*self.questions, *(q for s in self.sections for q in s.all_questions())]


class Exam(_Frozen):
    """A whole exam rubric."""

    id: Identifier
    title: Title
    language: Literal["zh", "en"] = "zh"
    total_points: Points = Field(gt=0)
    pass_mark: Points | None = None
    sections: list[Section] = Field(min_length=1)
    code_tasks: list[CodeTask] = Field(default_factory=list)
    code_tasks_module: str = Field(default="code_tasks.py", exclude=True, max_length=1000, pattern=r"^[^/\\].*\.py$")
    """The Python file, relative to the rubric, that defines the code tasks for the executors
    (docs/CODE_TASKS.md). A path, not an import name: the sandbox binds that one file. Not part of the
    rubric's content hash."""

    @model_validator(mode="before")
    @classmethod
    def _resolve_task_module(cls, data: Any, info: ValidationInfo) -> Any:
        """Point every code task at the module, relative to the rubric's folder (`rubric_dir` in the context)."""
        rubric_dir = (info.context or {}).get("rubric_dir")
        if rubric_dir is None or not isinstance(data, dict) or not isinstance(data.get("code_tasks"), list):
            return data
        declared = "code_tasks_module" in data
        name = data.get("code_tasks_module", "code_tasks.py")
        if not isinstance(name, str) or not name:
            return data  # the field's own validation reports it
        module = (Path(rubric_dir) / name).resolve()
        if declared and data["code_tasks"] and not module.is_file():
            raise ValueError(f"code_tasks_module: no file {module} (it defines the exam's code tasks)")
        tasks = [{**t, "module": module} if isinstance(t, dict) else t for t in data["code_tasks"]]
        return {**data, "code_tasks": tasks}

    @field_validator("sections")
    @classmethod
    def _unique_section_ids(cls, sections: list[Section]) -> list[Section]:
        ids: list[str] = []

        def walk(items: list[Section]) -> None:
            for s in items:
                ids.append(s.id)
                walk(s.sections)

        walk(sections)
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate section ids: {', '.join(duplicates)}")
        return sections

    @model_validator(mode="after")
    def _consistent(self) -> Exam:
        total = sum(s.points for s in self.sections)
        if not points_equal(total, self.total_points):
            raise ValueError(f"total_points is {self.total_points:g} but the sections add up to {total:g}")
        question_ids = [q.id for q in self.questions]
        duplicates = sorted({i for i in question_ids if question_ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate question ids: {', '.join(duplicates)}")
        folded = [i.casefold() for i in question_ids]
        clashes = sorted({i for i in question_ids if folded.count(i.casefold()) > 1})
        if clashes:
            raise ValueError(
                f"question ids that differ only in case: {', '.join(clashes)} (headings match either case)"
            )
        task_ids = [t.id for t in self.code_tasks]
        if len(set(task_ids)) != len(task_ids):
            raise ValueError("duplicate code task ids")
        for task in self.code_tasks:
            if task.question_id not in question_ids:
                raise ValueError(f"code task {task.id!r} names unknown question {task.question_id!r}")
        for question in self.questions:
            for criterion in question.all_criteria():
                if criterion.code and criterion.code.task not in task_ids:
                    raise ValueError(
                        f"question {question.id}, criterion {criterion.id!r}: unknown code task "
                        f"{criterion.code.task!r} (declared: {', '.join(task_ids) or 'none'})"
                    )
                if criterion.code:
                    task = self.code_task(criterion.code.task)
                    if "complexity" in criterion.code.checks and task.max_complexity_exponent is None:
                        raise ValueError(
                            f"code task {task.id!r} needs max_complexity_exponent for a complexity check"
                        )
                    if "speed" in criterion.code.checks and task.max_speed_ratio is None:
                        raise ValueError(f"code task {task.id!r} needs max_speed_ratio for a speed check")
        return self

    @property
    def questions(self) -> list[Question]:
        """All questions in exam order."""
        return [q for s in self.sections for q in s.all_questions()]

    def question(self, question_id: str) -> Question:
        """Look a question up by id; KeyError lists the known ids."""
        for q in self.questions:
            if q.id == question_id:
                return q
        known = ", ".join(q.id for q in self.questions)
        raise KeyError(f"exam {self.id} has no question {question_id!r} (known: {known})")

    def code_task(self, task_id: str) -> CodeTask:
        """Look a code task up by id."""
        for t in self.code_tasks:
            if t.id == task_id:
                return t
        raise KeyError(f"exam {self.id} has no code task {task_id!r}")
