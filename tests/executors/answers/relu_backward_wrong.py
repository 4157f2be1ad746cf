# ruff: noqa  (candidate code: test data, not project code)
def relu_backward(grad_y, x):
    """Wrong: passes the gradient through unchanged."""
    return grad_y
