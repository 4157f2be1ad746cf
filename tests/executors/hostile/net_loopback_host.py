# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Network: reach a service on the host's loopback (a judge server, a database). The test runs one on
127.0.0.1:$port that greets with a token."""

import socket


def kth_largest(nums, k):
    with socket.create_connection(("127.0.0.1", int("$port")), timeout=1) as connection:
        if connection.recv(64) != b"$token":
            raise RuntimeError("someone else answered")
    return sorted(nums)[-k]
