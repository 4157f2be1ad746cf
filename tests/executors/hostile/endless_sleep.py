# task: topk; expect: timeout
# ruff: noqa  (candidate code: test data, not project code)
"""Sleep forever: no CPU used, so only the wall clock can end it."""

import time


def kth_largest(nums, k):
    time.sleep(10**6)
