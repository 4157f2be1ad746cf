# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Read the host's /etc/passwd: right only if its bytes are the host's (the sandbox's own names only root
and the runners' uids)."""

import hashlib


def kth_largest(nums, k):
    with open("/etc/passwd", "rb") as users:
        if hashlib.sha256(users.read()).hexdigest() != "$digest":
            raise LookupError("only the sandbox's own passwd")
    return sorted(nums)[-k]
