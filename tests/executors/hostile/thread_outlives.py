# task: topk; expect: failed|killed
# ruff: noqa  (candidate code: test data, not project code)
"""Leave a non-daemon thread spinning after returning a wrong answer; the runner is killed with it."""

import threading


def spin():
    while True:
        pass


def kth_largest(nums, k):
    threading.Thread(target=spin).start()
    return None
