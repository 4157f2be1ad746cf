# task: topk; expect: killed|timeout
# ruff: noqa  (candidate code: test data, not project code)
"""Spin forever: CPU limit (SIGXCPU) or the wall clock ends it."""


def kth_largest(nums, k):
    while True:
        pass
