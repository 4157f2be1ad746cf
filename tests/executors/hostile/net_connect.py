# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Network: reach the internet. Connected, the answer is right; contained, it raises."""

import socket


def kth_largest(nums, k):
    socket.create_connection(("1.1.1.1", 80), timeout=1).close()
    return sorted(nums)[-k]
