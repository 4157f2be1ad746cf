# ruff: noqa  (candidate code: test data, not project code)
import torch


def scaled_dot_product_attention(q, k, v, causal=False):
    """Degenerate: all zeros (KernelBench #165 passed these under a loose tolerance)."""
    return torch.zeros_like(q)
