"""Loading an exam's task module: a Python file that defines `TASKS`, a list of `api.Task`.

The same loader runs on the host (which tasks exist, which need torch) and in the sandbox, where the file
is bound read-only. The module imports the API as `gradeflow_task_api`, whatever the harness is called
where it runs.
"""

from __future__ import annotations

import hashlib
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import api
from .api import Task


class TaskModuleError(Exception):
    """The task module is missing, does not run, or does not define its tasks as the API says."""


@dataclass(frozen=True)
class TaskRegistry:
    """The tasks one exam's module declares, by id."""

    path: str
    tasks: Mapping[str, Task]

    def get(self, task_id: str) -> Task:
        """Look a task up; KeyError names the module and the ids it defines."""
        if task_id not in self.tasks:
            raise KeyError(
                f"{self.path} defines no code task {task_id!r} (it defines: {', '.join(sorted(self.tasks)) or 'none'})"
            )
        return self.tasks[task_id]

    @property
    def needs_torch(self) -> bool:
        """Whether any task needs torch in the sandbox."""
        return any(task.torch for task in self.tasks.values())


def load_tasks(path: str | Path) -> TaskRegistry:
    """Run the module at `path` and collect its `TASKS`; TaskModuleError says what is wrong and where.

    The source is compiled from the file directly, so nothing is written next to it (no __pycache__).
    """
    path = str(path)
    try:
        with open(path, encoding="utf-8") as source_file:
            source = source_file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise TaskModuleError(f"cannot read the code-task module {path}: {error}") from None
    sys.modules.setdefault(api.API_NAME, api)
    name = "gradeflow_exam_tasks_" + hashlib.sha256(path.encode()).hexdigest()[:12]
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module  # dataclasses and pickling look classes up by their module
    try:
        exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 - the exam's own code, not an answer
    except Exception as error:
        sys.modules.pop(name, None)
        raise TaskModuleError(f"the code-task module {path} failed to load: {type(error).__name__}: {error}") from error
    declared = getattr(module, "TASKS", None)
    if not isinstance(declared, (list, tuple)) or not all(isinstance(t, Task) for t in declared):
        raise TaskModuleError(f"{path} must define TASKS, a list of {api.API_NAME}.Task")
    ids = [t.id for t in declared]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise TaskModuleError(f"{path} defines code task(s) {', '.join(duplicates)} more than once")
    return TaskRegistry(path, types.MappingProxyType({t.id: t for t in declared}))
