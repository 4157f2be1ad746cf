# task: lis; expect: failed|killed
# ruff: noqa  (candidate code: test data, not project code)
"""Return a gigantic value to overflow the checker."""


def longest_increasing_subsequence(nums):
    return len(nums), list(range(10**8))
