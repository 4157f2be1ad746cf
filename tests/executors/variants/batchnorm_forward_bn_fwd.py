# task: batchnorm_forward; callable: bn_forward; as: batchnorm_forward_torch
# ruff: noqa  (candidate code: test data, not project code)
def bn_forward(X, weight, bias, epsilon=1e-5):
    mean = X.mean(dim=0)
    var = X.var(dim=0, unbiased=False)
    return (X - mean) / (var + epsilon).sqrt() * weight + bias
