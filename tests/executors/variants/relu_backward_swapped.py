# task: relu_backward; callable: relu_grad; as: relu_backward_torch
# ruff: noqa  (candidate code: test data, not project code)
def relu_grad(x, grad_output):
    """x first, then the upstream gradient: called by keyword, so the order does not matter."""
    return grad_output * (x > 0)
