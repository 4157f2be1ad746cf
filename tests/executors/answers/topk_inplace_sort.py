# ruff: noqa  (candidate code: test data, not project code)
def kth_largest(nums, k):
    """Correct, but sorts the caller's list in place (noted, not failed)."""
    nums.sort()
    return nums[len(nums) - k]
