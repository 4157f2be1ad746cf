# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Right on small trials, a cheap wrong answer once inputs look like timing runs: timing outputs are checked."""


def kth_largest(nums, k):
    if len(nums) >= 1024:
        return nums[0]
    return sorted(nums)[-k]
