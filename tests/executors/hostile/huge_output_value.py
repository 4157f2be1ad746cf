# task: lis; expect: failed|killed
"""Return a gigantic value to overflow the checker."""


def longest_increasing_subsequence(nums):
    return len(nums), list(range(10**8))
