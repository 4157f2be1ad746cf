# ruff: noqa  (candidate code: test data, not project code)
def batchnorm_backward(grad_y, x, gamma, eps=1e-5):
    """Wrong: treats mean and variance as constants (the linear-layer gradient)."""
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    inv_std = 1.0 / (var + eps) ** 0.5
    x_hat = (x - mean) * inv_std
    return grad_y * gamma * inv_std, (grad_y * x_hat).sum(dim=0), grad_y.sum(dim=0)
