# ruff: noqa  (candidate code: test data, not project code)
def batchnorm_backward(grad_y, x, gamma, eps=1e-5):
    n = x.shape[0]
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    inv_std = 1.0 / (var + eps) ** 0.5
    x_hat = (x - mean) * inv_std
    grad_gamma = (grad_y * x_hat).sum(dim=0)
    grad_beta = grad_y.sum(dim=0)
    grad_x_hat = grad_y * gamma
    grad_x = inv_std / n * (n * grad_x_hat - grad_x_hat.sum(dim=0) - x_hat * (grad_x_hat * x_hat).sum(dim=0))
    return grad_x, grad_gamma, grad_beta
