# task: attention; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Patch torch's SDPA (the reference) to return zeros, and return zeros too."""

import torch
import torch.nn.functional as F

F.scaled_dot_product_attention = lambda q, k, v, **kw: torch.zeros_like(q)
torch.nn.functional.scaled_dot_product_attention = F.scaled_dot_product_attention


def scaled_dot_product_attention(q, k, v, causal=False):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
