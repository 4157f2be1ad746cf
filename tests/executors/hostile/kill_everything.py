# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""kill(-1): every process this uid may signal. Had it taken the checker down, we would be orphaned."""

import os
import signal


def kth_largest(nums, k):
    os.kill(-1, signal.SIGKILL)
    if os.getppid() in (0, 1):
        return sorted(nums)[-k]
    raise ProcessLookupError("the checker is still our parent: kill(-1) reached nothing")
