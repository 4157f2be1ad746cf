# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Network: reach a service on the host's loopback (a judge server, a database)."""

import socket


def kth_largest(nums, k):
    for port in (22, 80, 4200, 8080, 11434):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return sorted(nums)[-k]
        except OSError:
            pass
    raise RuntimeError("no host service reachable")
