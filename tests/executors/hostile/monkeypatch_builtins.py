# task: topk; expect: failed|error
# ruff: noqa  (candidate code: test data, not project code)
"""Patch builtins so comparisons and sorted() lie, then return a wrong answer."""

import builtins

builtins.sorted = lambda *a, **kw: [0] * 10**6
builtins.isinstance = lambda *a: True


def kth_largest(nums, k):
    return "right"
