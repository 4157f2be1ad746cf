# task: topk; expect: killed|failed
# ruff: noqa  (candidate code: test data, not project code)
"""Flood stdout: the file-size limit ends it; only a capped tail is kept."""

import sys


def kth_largest(nums, k):
    while True:
        sys.stdout.write("x" * 65536)
