# task: attention; callable: sdpa; as: attention_torch
# ruff: noqa  (candidate code: test data, not project code)
import math

import torch


def sdpa(Q, K, V, future_masked=False):
    """The flag under a name nobody would guess: it is passed by position."""
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])
    if future_masked:
        n = scores.shape[-1]
        mask = torch.ones(n, n, dtype=torch.bool, device=scores.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ V
