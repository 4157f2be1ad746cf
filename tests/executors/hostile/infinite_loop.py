# task: topk; expect: killed|timeout
"""Spin forever: CPU limit (SIGXCPU) or the wall clock ends it."""


def kth_largest(nums, k):
    while True:
        pass
