# task: topk; expect: error
# ruff: noqa  (candidate code: test data, not project code)
"""os._exit() inside the call: the runner ends without a reply."""

import os


def kth_largest(nums, k):
    os._exit(0)
