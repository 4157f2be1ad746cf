# task: topk; expect: killed|timeout
"""Spin while the module loads, before any function is called."""
while True:
    pass
