# task: topk; expect: error
"""os._exit() inside the call: the runner ends without a reply."""
import os


def kth_largest(nums, k):
    os._exit(0)
