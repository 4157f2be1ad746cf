# ruff: noqa  (candidate code: test data, not project code)
import math

import torch


def scaled_dot_product_attention(q, k, v, causal=False):
    """Right output, but scales q in place (KernelBench #38: mutation leaks into the reference)."""
    q.mul_(1 / math.sqrt(q.shape[-1]))
    scores = q @ k.transpose(-2, -1)
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores.float(), dim=-1).to(v.dtype) @ v
