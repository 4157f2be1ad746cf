# ruff: noqa  (candidate code: test data, not project code)
def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Wrong: unbiased variance (torch's default var())."""
    mean = x.mean(dim=0)
    return gamma * (x - mean) / (x.var(dim=0) + eps) ** 0.5 + beta
