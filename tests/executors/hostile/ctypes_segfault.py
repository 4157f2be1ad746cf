# task: topk; expect: killed
"""Crash the interpreter through ctypes."""
import ctypes


def kth_largest(nums, k):
    ctypes.string_at(0)
    return sorted(nums)[-k]
