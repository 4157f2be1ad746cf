# ruff: noqa  (candidate code: test data, not project code)
def relu_backward(grad_y, x):
    return grad_y * (x > 0)
