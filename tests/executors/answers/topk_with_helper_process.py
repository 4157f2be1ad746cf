# ruff: noqa  (candidate code: test data, not project code)
import os
import time

if os.fork() == 0:  # a helper process kept alive: work done there would not show in our CPU time
    time.sleep(3600)
    os._exit(0)


def kth_largest(nums, k):
    """Insertion into a sorted list by linear scan: O(n^2); timed by the wall clock because of the helper."""
    ordered = []
    for x in nums:
        i = 0
        while i < len(ordered) and ordered[i] < x:
            i += 1
        ordered.insert(i, x)
    return ordered[len(ordered) - k]
