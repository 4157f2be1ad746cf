# task: attention; callable: attention; as: attention_torch
# ruff: noqa  (candidate code: test data, not project code)
import math

import torch


def attention(query, key, value, is_causal=False):
    """Long parameter names and torch's own flag name."""
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])
    if is_causal:
        n = scores.shape[-1]
        mask = torch.ones(n, n, dtype=torch.bool, device=scores.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ value
