# ruff: noqa  (candidate code: test data, not project code)
def batchnorm_forward(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    return gamma * (x - mean) / (var + eps) ** 0.5 + beta
