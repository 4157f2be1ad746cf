# ruff: noqa  (candidate code: test data, not project code)
import math

import torch


def scaled_dot_product_attention(q, k, v, causal=False):
    """Right, but one query row at a time in Python: far slower than the fused kernel."""
    b, h, n, d = q.shape
    out = torch.empty_like(v)
    for bi in range(b):
        for hi in range(h):
            for i in range(n):
                limit = i + 1 if causal else n
                scores = (k[bi, hi, :limit] @ q[bi, hi, i]) / math.sqrt(d)
                out[bi, hi, i] = torch.softmax(scores.float(), dim=0).to(v.dtype) @ v[bi, hi, :limit]
    return out
