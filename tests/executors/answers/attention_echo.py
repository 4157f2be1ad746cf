# ruff: noqa  (candidate code: test data, not project code)
def scaled_dot_product_attention(q, k, v, causal=False):
    """Degenerate: echoes an input."""
    return v
