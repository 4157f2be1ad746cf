# task: topk; expect: failed|killed|timeout
"""Unbounded recursion: a RecursionError, reported."""


def kth_largest(nums, k):
    return kth_largest(nums, k + 1)
