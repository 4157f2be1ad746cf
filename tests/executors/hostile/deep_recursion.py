# task: topk; expect: failed|killed|timeout
# ruff: noqa  (candidate code: test data, not project code)
"""Unbounded recursion: a RecursionError, reported."""


def kth_largest(nums, k):
    return kth_largest(nums, k + 1)
