# task: topk; expect: timeout|killed
# ruff: noqa  (candidate code: test data, not project code)
"""Ignore every catchable signal and sleep: SIGKILL still ends it."""

import signal
import time

for number in range(1, 32):
    try:
        signal.signal(number, signal.SIG_IGN)
    except (OSError, ValueError):
        pass


def kth_largest(nums, k):
    time.sleep(10**6)
