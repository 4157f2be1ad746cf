# task: topk; expect: killed
# ruff: noqa  (candidate code: test data, not project code)
"""Crash the interpreter through ctypes."""

import ctypes


def kth_largest(nums, k):
    ctypes.string_at(0)
    return sorted(nums)[-k]
