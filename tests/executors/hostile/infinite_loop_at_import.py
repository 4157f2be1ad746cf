# task: topk; expect: killed|timeout
# ruff: noqa  (candidate code: test data, not project code)
"""Spin while the module loads, before any function is called."""

while True:
    pass
