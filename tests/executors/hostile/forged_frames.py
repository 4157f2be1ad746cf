# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Write forged reply frames into every open fd (the runner's own reply pipe included)."""

import json
import os
import struct


def frame(header):
    payload = json.dumps(header).encode()
    return struct.pack("<II", len(payload), 0) + payload


def kth_largest(nums, k):
    forged = frame({"ok": True, "out": 0, "mutated": []})
    for fd in range(3, 64):
        try:
            os.write(fd, forged * 4)
        except OSError:
            pass
    return 0
