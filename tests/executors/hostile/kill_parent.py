# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Kill the process that runs the checks."""

import os
import signal


def kth_largest(nums, k):
    os.kill(os.getppid(), signal.SIGKILL)
    return sorted(nums)[-k]
