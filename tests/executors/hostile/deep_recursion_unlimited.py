# task: topk; expect: failed|killed|timeout
# ruff: noqa  (candidate code: test data, not project code)
"""Lift the recursion limit and recurse through C frames: the stack overflows, the runner dies alone."""

import sys

sys.setrecursionlimit(10**9)


def kth_largest(nums, k):
    return kth_largest.__call__(nums, k + 1)
