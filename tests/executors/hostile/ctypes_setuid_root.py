# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Become root through libc's setuid: no capabilities, no_new_privs."""

import ctypes


def kth_largest(nums, k):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setuid(0) == 0:
        return sorted(nums)[-k]
    raise PermissionError("setuid(0) refused")
