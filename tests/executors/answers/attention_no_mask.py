# ruff: noqa  (candidate code: test data, not project code)
import math

import torch


def scaled_dot_product_attention(q, k, v, causal=False):
    """Wrong: ignores the causal mask."""
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v
