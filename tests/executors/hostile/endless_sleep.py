# task: topk; expect: timeout
"""Sleep forever: no CPU used, so only the wall clock can end it."""
import time


def kth_largest(nums, k):
    time.sleep(10**6)
