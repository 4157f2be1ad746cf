# task: topk; expect: failed|killed|timeout
# ruff: noqa  (candidate code: test data, not project code)
"""Spawn threads without end: RLIMIT_NPROC counts threads too."""

import threading
import time


def kth_largest(nums, k):
    while True:
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
