# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Network: reach another machine. The test listens on the host's own network address ($host, not the
loopback) and greets with a token: connected, the answer is right; contained, it raises."""

import socket


def kth_largest(nums, k):
    with socket.create_connection(("$host", int("$port")), timeout=1) as connection:
        if connection.recv(64) != b"$token":
            raise RuntimeError("someone else answered")
    return sorted(nums)[-k]
