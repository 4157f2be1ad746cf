# task: topk; expect: failed|killed
# ruff: noqa  (candidate code: test data, not project code)
"""Memory bomb: RLIMIT_AS turns it into a MemoryError (or a kill)."""


def kth_largest(nums, k):
    hoard = []
    while True:
        hoard.append(bytearray(64 << 20))
