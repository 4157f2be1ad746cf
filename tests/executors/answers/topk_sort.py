# ruff: noqa  (candidate code: test data, not project code)
def kth_largest(nums, k):
    """Sort and index: O(n log n)."""
    return sorted(nums)[len(nums) - k]
