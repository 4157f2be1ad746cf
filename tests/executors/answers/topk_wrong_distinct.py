# ruff: noqa  (candidate code: test data, not project code)
def kth_largest(nums, k):
    """Wrong: k-th largest distinct value."""
    values = sorted(set(nums), reverse=True)
    return values[min(k, len(values)) - 1]
