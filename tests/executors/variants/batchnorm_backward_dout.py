# task: batchnorm_backward; callable: bn_backward; as: batchnorm_backward_torch
# ruff: noqa  (candidate code: test data, not project code)
def bn_backward(dout, x, gamma, eps=1e-5):
    """The cs231n names: dout for the upstream gradient."""
    n = x.shape[0]
    mean = x.mean(dim=0)
    var = x.var(dim=0, unbiased=False)
    inv_std = 1.0 / (var + eps).sqrt()
    x_hat = (x - mean) * inv_std
    dgamma = (dout * x_hat).sum(dim=0)
    dbeta = dout.sum(dim=0)
    dx_hat = dout * gamma
    dx = inv_std / n * (n * dx_hat - dx_hat.sum(dim=0) - x_hat * (dx_hat * x_hat).sum(dim=0))
    return dx, dgamma, dbeta
