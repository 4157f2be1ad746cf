# ruff: noqa  (candidate code: test data, not project code)
from bisect import bisect_left


def longest_increasing_subsequence(nums):
    """Wrong shape: the length only."""
    tails = []
    for x in nums:
        j = bisect_left(tails, x)
        if j == len(tails):
            tails.append(x)
        else:
            tails[j] = x
    return len(tails)
