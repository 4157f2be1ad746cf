# ruff: noqa  (candidate code: test data, not project code)
import math

import torch


def scaled_dot_product_attention(q, k, v, causal=False):
    """Right, but one query row at a time with the softmax in Python floats: far slower than the fused kernel."""
    b, h, n, d = q.shape
    out = torch.empty_like(v)
    scale = 1 / math.sqrt(d)
    for bi in range(b):
        for hi in range(h):
            for i in range(n):
                limit = i + 1 if causal else n
                scores = ((k[bi, hi, :limit].float() @ q[bi, hi, i].float()) * scale).tolist()
                top = max(scores)
                weights = [math.exp(s - top) for s in scores]
                total = sum(weights)
                probs = torch.tensor([w / total for w in weights], dtype=v.dtype, device=v.device)
                out[bi, hi, i] = probs @ v[bi, hi, :limit]
    return out
