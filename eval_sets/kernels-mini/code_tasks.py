"""The code task of the kernels-mini exam: a numerically stable softmax over the last axis.

Written against the harness's task API only (docs/CODE_TASKS.md); nothing in executors/ knows this task.
"""

from __future__ import annotations

import random
from typing import Any

from gradeflow_task_api import ArrayMode, Contract, Param, Task, Timing, Trial, normal, tensor_judge, tensor_prepare


def _trials(rng: random.Random, mode: ArrayMode) -> list[Trial]:
    """Small and odd shapes, logits near 1000 (a naive exp overflows), and one half-precision trial."""
    trials = [Trial(f"shape{'x'.join(map(str, s))}", {"x": normal(rng, s, 2.0)}) for s in ((4, 8), (3, 5, 17), (1, 1))]
    trials.append(Trial("logits_near_1000", {"x": normal(rng, (6, 32), 50.0, 1000.0)}))
    half = "bfloat16" if mode == "torch" else "float16"
    trials.append(Trial(f"8x64_{half}", {"x": normal(rng, (8, 64), 3.0), "dtype": half}, half))
    return trials


def _reference(x: Any) -> Any:
    import torch

    return torch.softmax(x.float(), dim=-1)


def _timing(rng: random.Random, n: int) -> dict[str, Any]:
    return {"x": normal(rng, (n, 512), 4.0)}


TASKS = [
    Task(
        id="softmax",
        contract=Contract((Param("x", ("logits", "inputs", "input", "z", "a")),)),
        trials=_trials,
        reference=_reference,
        judge=tensor_judge,
        prepare=tensor_prepare,
        torch=True,
        guarded=("x",),
        mutation_fails=True,
        timing=Timing(kind="speed", sizes=(64, 256), gpu_sizes=(1024, 4096), inputs=_timing),
    ),
]
