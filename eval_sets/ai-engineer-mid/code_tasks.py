"""The seed exam's code tasks: inputs, references and judges for questions 1.1, 1.2, 2.1, 3.1, 4.1 and 10.1.

Loaded by the executors' harness inside the sandbox (read-only); see docs/CODE_TASKS.md. Trials are drawn
from the seeded `rng`, so the same settings give every answer the same inputs.
"""

from __future__ import annotations

import bisect
import random
from array import array
from typing import Any

from gradeflow_task_api import (
    ArrayMode,
    Contract,
    Param,
    Task,
    Timing,
    Trial,
    Verdict,
    normal,
    tensor_judge,
    tensor_prepare,
)

# ---------------------------------------------------------------- pure-Python tasks


def _ints(rng: random.Random, n: int, lo: int | None = None, hi: int | None = None) -> list[int]:
    """Draw n seeded ints: any 32-bit values (at C speed, for timing inputs) or uniform in [lo, hi]."""
    if lo is None or hi is None:
        return array("i", rng.randbytes(4 * n)).tolist()
    return [rng.randint(lo, hi) for _ in range(n)]


def _topk_trials(rng: random.Random, _mode: ArrayMode) -> list[Trial]:
    cases = [
        ([7], 1),
        ([5, 5, 5, 1], 2),
        ([3, 2, 1, 5, 6, 4], 2),
        ([3, 2, 3, 1, 2, 4, 5, 5, 6], 4),
        ([-1, -7, -3], 3),
        ([4] * 9, 5),
    ]
    for n in (10, 57, 200, 1000):
        nums = _ints(rng, n, -50, 50) if n < 100 else _ints(rng, n)
        cases += [(nums, 1), (nums, n), (nums, rng.randint(1, n))]
    return [Trial(f"case{i}", {"nums": nums, "k": k}) for i, (nums, k) in enumerate(cases)]


def _topk_reference(nums: list[int], k: int) -> int:
    return sorted(nums)[len(nums) - k]


def _topk_judge(trial: Trial, out: Any, ref: Any) -> Verdict:
    if isinstance(out, bool) or not isinstance(out, (int, float)):
        return Verdict(False, error=f"expected an int, got {type(out).__name__}")
    return Verdict(
        out == ref,
        abs(out - ref) if out != ref else 0.0,
        "" if out == ref else f"returned {out}, expected {ref} (k={trial.args['k']})",
    )


def _lis_trials(rng: random.Random, _mode: ArrayMode) -> list[Trial]:
    cases = [
        [],
        [5],
        [2, 2, 2],
        [5, 4, 3, 2, 1],
        [1, 2, 3, 4, 5],
        [10, 9, 2, 5, 3, 7, 101, 18],
        [0, 1, 0, 3, 2, 3],
        [7, 7, 7, 7, 8],
    ]
    cases += [_ints(rng, n, -20, 20) for n in (12, 40, 100)] + [_ints(rng, 600)]
    return [Trial(f"case{i}", {"nums": nums}) for i, nums in enumerate(cases)]


def _lis_reference(nums: list[int]) -> tuple[int, list[int]]:
    tails: list[int] = []
    tail_index: list[int] = []
    previous = [-1] * len(nums)
    for i, x in enumerate(nums):
        j = bisect.bisect_left(tails, x)
        previous[i] = tail_index[j - 1] if j else -1
        if j == len(tails):
            tails.append(x)
            tail_index.append(i)
        else:
            tails[j], tail_index[j] = x, i
    sequence, i = [], tail_index[-1] if tail_index else -1
    while i >= 0:
        sequence.append(nums[i])
        i = previous[i]
    return len(tails), sequence[::-1]


def _is_subsequence(sequence: list[Any], nums: list[int]) -> bool:
    it = iter(nums)
    return all(any(x == y for y in it) for x in sequence)


def _lis_judge(trial: Trial, out: Any, ref: Any) -> Verdict:
    nums, (length, _) = trial.args["nums"], ref
    if not (isinstance(out, list) and len(out) == 2 and isinstance(out[1], list)):
        return Verdict(False, error="expected (length, subsequence)")
    got, sequence = out
    if got != length:
        return Verdict(
            False,
            abs(got - length) if isinstance(got, (int, float)) else None,
            f"length {got!r}, expected {length}",
        )
    if len(sequence) != length:
        return Verdict(False, error=f"subsequence has {len(sequence)} values, length says {length}")
    if any(not isinstance(x, int) or isinstance(x, bool) for x in sequence):
        return Verdict(False, error="subsequence holds non-integers")
    if any(a >= b for a, b in zip(sequence, sequence[1:], strict=False)):
        return Verdict(False, error="subsequence is not strictly increasing")
    if not _is_subsequence(sequence, nums):
        return Verdict(False, error="subsequence is not a subsequence of nums")
    return Verdict(True, 0.0)


def uf_ops(rng: random.Random, n: int) -> dict[str, Any]:
    """Draw n operations (m = n): chains that defeat naive linking in both directions, then random
    unions and connectivity queries, half of them on the deepest chain ends. Flat lists: cheap on the wire.
    """
    if n < 8:
        kinds = [rng.randint(0, 1) for _ in range(n)]
        return {
            "n": n,
            "kinds": kinds,
            "xs": [rng.randrange(n) for _ in range(n)],
            "ys": [rng.randrange(n) for _ in range(n)],
        }
    quarter = n // 4
    kinds = [1] * (2 * quarter - 2)
    xs = list(range(quarter - 1)) + list(range(quarter + 1, 2 * quarter))
    ys = list(range(1, quarter)) + list(range(quarter, 2 * quarter - 1))
    rest = n - len(kinds)
    randoms = array("I", rng.randbytes(12 * rest)).tolist()
    deep = (0, quarter, 2 * quarter - 1, quarter - 1)
    for i in range(rest):
        a, b, c = randoms[3 * i : 3 * i + 3]
        kinds.append(c & 1)
        xs.append(deep[(c >> 2) & 3] if (c & 1) == 0 and (c >> 1) & 1 else a % n)
        ys.append(b % n)
    return {"n": n, "kinds": kinds, "xs": xs, "ys": ys}


def _uf_trials(rng: random.Random, _mode: ArrayMode) -> list[Trial]:
    small = {"n": 5, "kinds": [1, 0, 0, 1, 1, 0, 0], "xs": [0, 0, 1, 3, 1, 0, 2], "ys": [1, 1, 2, 4, 4, 3, 4]}
    cases = [{"n": 1, "kinds": [0], "xs": [0], "ys": [0]}, small] + [uf_ops(rng, n) for n in (10, 64, 300, 2000)]
    return [Trial(f"case{i}", args) for i, args in enumerate(cases)]


def _uf_invoke(cls: Any, inputs: dict[str, Any]) -> list[bool]:
    structure = cls(inputs["n"])
    connected = []
    for kind, x, y in zip(inputs["kinds"], inputs["xs"], inputs["ys"], strict=True):
        if kind:
            structure.union(x, y)
        else:
            connected.append(structure.find(x) == structure.find(y))
    return connected


class _UnionFindReference:
    def __init__(self, n: int):
        self.parent, self.rank = list(range(n)), [0] * n

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx == ry:
            return
        if self.rank[rx] < self.rank[ry]:
            rx, ry = ry, rx
        self.parent[ry] = rx
        self.rank[rx] += self.rank[rx] == self.rank[ry]


def _uf_judge(trial: Trial, out: Any, ref: Any) -> Verdict:
    if out == ref:
        return Verdict(True, 0.0)
    wrong = sum(1 for a, b in zip(out, ref, strict=False) if a != b) + abs(len(out) - len(ref))
    return Verdict(False, error=f"{wrong} of {len(ref)} connectivity queries wrong")


# ---------------------------------------------------------------- tensor tasks


def _half(mode: ArrayMode) -> str:
    return "bfloat16" if mode == "torch" else "float16"


def _attention_args(rng: random.Random, shape: tuple[int, int, int, int], causal: bool) -> dict[str, Any]:
    return {
        "q": normal(rng, shape),
        "k": normal(rng, shape),
        "v": normal(rng, shape, 1.0, 0.5),
        "causal": causal,
    }


def _attention_trials(rng: random.Random, _mode: ArrayMode) -> list[Trial]:
    shapes = [
        ((1, 1, 1, 8), False),
        ((2, 4, 16, 8), False),
        ((2, 4, 16, 8), True),
        ((1, 2, 33, 16), True),
        ((2, 3, 64, 32), False),
    ]
    trials = [
        Trial(f"b{s[0]}h{s[1]}n{s[2]}d{s[3]}{'_causal' if c else ''}", _attention_args(rng, s, c))
        for s, c in shapes
    ]
    half = "float16"
    trials.append(
        Trial(f"b2h2n32d16_causal_{half}", {**_attention_args(rng, (2, 2, 32, 16), True), "dtype": half}, half)
    )
    return trials


def _attention_reference(q: Any, k: Any, v: Any, causal: bool = False) -> Any:
    import torch.nn.functional as F

    return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=causal)


def _bn_args(rng: random.Random, n: int, d: int) -> dict[str, Any]:
    return {
        "x": normal(rng, (n, d), 3.0, 2.0),
        "gamma": normal(rng, (d,), 0.5, 1.0),
        "beta": normal(rng, (d,)),
    }


def _bn_forward_trials(rng: random.Random, _mode: ArrayMode) -> list[Trial]:
    trials = [Trial(f"N{n}D{d}", _bn_args(rng, n, d)) for n, d in ((8, 4), (64, 16), (3, 5))]
    trials.append(Trial("N16D8_eps1e-3", {**_bn_args(rng, 16, 8), "eps": 1e-3}))
    half = "float16"
    trials.append(Trial(f"N32D8_{half}", {**_bn_args(rng, 32, 8), "dtype": half}, half))
    return trials


def _bn_forward_reference(x: Any, gamma: Any, beta: Any, eps: float = 1e-5) -> Any:
    import torch.nn.functional as F

    return F.batch_norm(x.float(), None, None, gamma.float(), beta.float(), training=True, eps=eps)


def _bn_backward_trials(rng: random.Random, _mode: ArrayMode) -> list[Trial]:
    trials = []
    for n, d in ((8, 4), (32, 16), (5, 3)):
        args = _bn_args(rng, n, d)
        trials.append(Trial(f"N{n}D{d}", {"grad_y": normal(rng, (n, d)), "x": args["x"], "gamma": args["gamma"]}))
    return trials


def _bn_backward_reference(grad_y: Any, x: Any, gamma: Any, eps: float = 1e-5) -> Any:
    import torch
    import torch.nn.functional as F

    x = x.detach().float().requires_grad_(True)
    gamma = gamma.detach().float().requires_grad_(True)
    beta = torch.zeros_like(gamma, requires_grad=True)
    y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    return torch.autograd.grad(y, (x, gamma, beta), grad_y.float())


def _relu_trials(rng: random.Random, mode: ArrayMode) -> list[Trial]:
    shapes = [(4, 8), (64, 33), (2, 3, 5)]
    trials = [
        Trial("x".join(map(str, s)), {"grad_y": normal(rng, s, 1.0, 0.3), "x": normal(rng, s)}) for s in shapes
    ]
    half = _half(mode)
    trials.append(
        Trial(
            f"16x16_{half}",
            {"grad_y": normal(rng, (16, 16), 1.0, 0.3), "x": normal(rng, (16, 16)), "dtype": half},
            half,
        )
    )
    return trials


def _relu_reference(grad_y: Any, x: Any) -> Any:
    import torch

    x = x.detach().float().requires_grad_(True)
    (grad_x,) = torch.autograd.grad(torch.relu(x), x, grad_y.float())
    return grad_x


# ---------------------------------------------------------------- the training loop (10.1)


def _train_trials(rng: random.Random, _mode: ArrayMode) -> list[Trial]:
    return [
        Trial("seed0_2epochs", {"seed": rng.randrange(2**31), "epochs": 2, "batches": 4, "max_norm": 1.0}),
        Trial("seed1_1epoch_norm0.5", {"seed": rng.randrange(2**31), "epochs": 1, "batches": 3, "max_norm": 0.5}),
    ]


def _train_prepare(args: dict[str, Any], _mode: ArrayMode, device: str) -> dict[str, Any]:
    """Build a model with BatchNorm (model.train() matters) and targets large enough that clipping bites."""
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(args["seed"])
    torch.manual_seed(args["seed"])
    model = nn.Sequential(nn.Linear(6, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 1)).to(device)
    model.eval()
    loader = [
        {
            "input": torch.randn(8, 6, generator=generator).to(device),
            "labels": (torch.randn(8, 1, generator=generator) * 20 + 5).to(device),
        }
        for _ in range(args["batches"])
    ]
    return {
        "model": model,
        "dataloader": loader,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        "criterion": nn.MSELoss(),
        "num_epochs": args["epochs"],
        "max_norm": args["max_norm"],
    }


def _train_invoke(fn: Any, inputs: dict[str, Any]) -> Any:
    model = inputs["model"]
    fn(
        model,
        inputs["dataloader"],
        inputs["optimizer"],
        inputs["criterion"],
        inputs["num_epochs"],
        max_norm=inputs["max_norm"],
    )
    return [t.detach().float() for t in model.state_dict().values() if t.is_floating_point()]


def _train_reference(
    model: Any, dataloader: Any, optimizer: Any, criterion: Any, num_epochs: int, max_norm: float = 1.0
) -> None:
    import torch

    model.train()
    for _ in range(num_epochs):
        for batch in dataloader:
            optimizer.zero_grad()
            loss = criterion(model(batch["input"]), batch["labels"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()


def _train_judge(trial: Trial, out: Any, ref: Any) -> Verdict:
    verdict = tensor_judge(Trial(trial.test_id, {}, trial.dtype), out, ref)
    if verdict.passed:
        return verdict
    return Verdict(
        False,
        verdict.max_abs_err,
        "parameters after training differ from the reference loop (zero_grad before backward, "
        "clip_grad_norm_ between backward and step, model.train()): " + verdict.error,
    )


# ---------------------------------------------------------------- timing inputs


def _topk_timing(rng: random.Random, n: int) -> dict[str, Any]:
    return {"nums": _ints(rng, n), "k": n // 2}


def _lis_timing(rng: random.Random, n: int) -> dict[str, Any]:
    return {"nums": _ints(rng, n)}


def _attention_timing(rng: random.Random, n: int) -> dict[str, Any]:
    return _attention_args(rng, (2, 4, n, 64), False)


# ---------------------------------------------------------------- the tasks

_NUMS = Param("nums", ("arr", "array", "a", "values", "numbers", "lst", "xs", "data", "items", "seq", "sequence"))
_GRAD_Y = Param("grad_y", ("dy", "dout", "grad_out", "grad_output", "grad", "upstream", "grad_outputs"))
_X = Param("x", ("input", "inputs", "inp", "z", "h"))
_GAMMA = Param("gamma", ("weight", "w", "scale"))
_EPS = Param("eps", ("epsilon",), optional=True, default=1e-5)
_DOUBLING = (512, 1024, 2048, 4096, 8192)

TASKS = [
    Task(
        id="topk",
        contract=Contract((_NUMS, Param("k", ("kth", "rank")))),
        trials=_topk_trials,
        reference=_topk_reference,
        judge=_topk_judge,
        guarded=("nums",),
        timing=Timing(kind="complexity", sizes=_DOUBLING, inputs=_topk_timing),
    ),
    Task(
        id="lis",
        contract=Contract((_NUMS,)),
        trials=_lis_trials,
        reference=_lis_reference,
        judge=_lis_judge,
        guarded=("nums",),
        timing=Timing(kind="complexity", sizes=_DOUBLING, inputs=_lis_timing),
    ),
    Task(
        id="union_find",
        contract=Contract(
            (Param("n", ("size", "num", "count", "num_nodes", "num_elements", "capacity", "length")),),
            {
                "union": ("unite", "merge", "join", "union_sets", "link", "connect"),
                "find": ("find_root", "root", "find_set", "get_root", "findset", "get"),
            },
        ),
        trials=_uf_trials,
        reference=_UnionFindReference,
        judge=_uf_judge,
        invoke=_uf_invoke,
        timing=Timing(kind="complexity", sizes=(256, 512, 1024, 2048, 4096), inputs=uf_ops),
    ),
    Task(
        id="attention",
        contract=Contract(
            (
                Param("q", ("query", "queries")),
                Param("k", ("key", "keys")),
                Param("v", ("value", "values")),
                Param(
                    "causal", ("is_causal", "causal_mask", "use_causal_mask", "masked"), optional=True, default=False
                ),
            )
        ),
        trials=_attention_trials,
        reference=_attention_reference,
        judge=tensor_judge,
        prepare=tensor_prepare,
        torch=True,
        guarded=("q", "k", "v"),
        mutation_fails=True,
        timing=Timing(kind="speed", sizes=(128, 256, 512), gpu_sizes=(512, 1024, 2048), inputs=_attention_timing),
    ),
    Task(
        id="batchnorm_forward",
        contract=Contract((_X, _GAMMA, Param("beta", ("bias", "b", "shift")), _EPS)),
        trials=_bn_forward_trials,
        reference=_bn_forward_reference,
        judge=tensor_judge,
        prepare=tensor_prepare,
        torch=True,
        guarded=("x", "gamma", "beta"),
        mutation_fails=True,
    ),
    Task(
        id="batchnorm_backward",
        contract=Contract((_GRAD_Y, _X, _GAMMA, _EPS)),
        trials=_bn_backward_trials,
        reference=_bn_backward_reference,
        judge=tensor_judge,
        prepare=tensor_prepare,
        torch=True,
        guarded=("grad_y", "x", "gamma"),
        mutation_fails=True,
    ),
    Task(
        id="relu_backward",
        contract=Contract((_GRAD_Y, _X)),
        trials=_relu_trials,
        reference=_relu_reference,
        judge=tensor_judge,
        prepare=tensor_prepare,
        torch=True,
        guarded=("grad_y", "x"),
        mutation_fails=True,
    ),
    Task(
        id="train_loop",
        contract=Contract(
            (
                Param("model", ("net", "network", "module")),
                Param(
                    "dataloader", ("data_loader", "loader", "train_loader", "train_dataloader", "data", "batches")
                ),
                Param("optimizer", ("optim", "opt")),
                Param("criterion", ("loss_fn", "loss_func", "loss_function", "loss", "lossfn")),
                Param("num_epochs", ("epochs", "n_epochs", "epoch", "num_epoch")),
                Param(
                    "max_norm",
                    ("max_grad_norm", "clip", "grad_clip", "clip_norm", "clip_value", "max_norm_value"),
                    optional=True,
                    default=1.0,
                ),
            )
        ),
        trials=_train_trials,
        reference=_train_reference,
        judge=_train_judge,
        invoke=_train_invoke,
        prepare=_train_prepare,
        torch=True,
    ),
]
