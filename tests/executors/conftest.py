"""Code tasks as the seed rubric declares them, the seed exam's task module, and a reader for answer files."""

from __future__ import annotations

from pathlib import Path

from executors.harness._registry import load_tasks
from rubric_schema import CodeTask

HERE = Path(__file__).parent
ANSWERS = HERE / "answers"
HOSTILE = HERE / "hostile"
ROOT = HERE.parents[1]
SEED_MODULE = ROOT / "eval_sets" / "ai-engineer-mid" / "code_tasks.py"
SOFTMAX_MODULE = ROOT / "eval_sets" / "kernels-mini" / "code_tasks.py"
"""The second exam's module: its task is declared there, with no edit to executors/."""
SEED = load_tasks(SEED_MODULE)
"""The seed exam's tasks as the harness loads them (trials, references, judges)."""

TASKS = {
    "topk": CodeTask(
        id="topk",
        module=SEED_MODULE,
        question_id="1.1",
        entrypoint="kth_largest",
        signature="def kth_largest(nums: list[int], k: int) -> int",
        max_complexity_exponent=1.3,
    ),
    "lis": CodeTask(
        id="lis",
        module=SEED_MODULE,
        question_id="1.2",
        entrypoint="longest_increasing_subsequence",
        signature="def longest_increasing_subsequence(nums: list[int]) -> tuple[int, list[int]]",
        max_complexity_exponent=1.3,
    ),
    "union_find": CodeTask(
        id="union_find",
        module=SEED_MODULE,
        question_id="2.1",
        entrypoint="UnionFind",
        signature="class UnionFind",
        max_complexity_exponent=1.3,
    ),
    "attention": CodeTask(
        id="attention",
        module=SEED_MODULE,
        question_id="3.1",
        entrypoint="scaled_dot_product_attention",
        signature="def scaled_dot_product_attention(q, k, v, causal=False)",
        max_speed_ratio=10,
    ),
    "batchnorm_forward": CodeTask(
        id="batchnorm_forward",
        module=SEED_MODULE,
        question_id="4.1",
        entrypoint="batchnorm_forward",
        signature="def batchnorm_forward(x, gamma, beta, eps=1e-5)",
    ),
    "batchnorm_backward": CodeTask(
        id="batchnorm_backward",
        module=SEED_MODULE,
        question_id="4.1",
        entrypoint="batchnorm_backward",
        signature="def batchnorm_backward(grad_y, x, gamma, eps=1e-5)",
    ),
    "relu_backward": CodeTask(
        id="relu_backward",
        module=SEED_MODULE,
        question_id="4.1",
        entrypoint="relu_backward",
        signature="def relu_backward(grad_y, x)",
    ),
    "train_loop": CodeTask(
        id="train_loop",
        module=SEED_MODULE,
        question_id="10.1",
        entrypoint="train",
        signature="def train(model, dataloader, optimizer, criterion, num_epochs, max_norm=1.0)",
    ),
}


def answer(name: str) -> str:
    """Read tests/executors/answers/<name>.py."""
    return (ANSWERS / f"{name}.py").read_text(encoding="utf-8")
