# task: topk; expect: failed|killed|timeout
# ruff: noqa  (candidate code: test data, not project code)
"""Fork bomb: RLIMIT_NPROC stops it, the pid namespace and cleanup end it."""

import os


def kth_largest(nums, k):
    while True:
        os.fork()
