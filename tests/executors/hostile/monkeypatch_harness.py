# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Patch the harness's judge and comparison so any output passes, then return a wrong answer."""

import sys

for name, module in list(sys.modules.items()):
    if name.endswith("_tasks") and hasattr(module, "TASKS"):
        for task in module.TASKS.values():
            object.__setattr__(task, "judge", lambda *args: module.Verdict(True, 0.0))
    if name.endswith("_checker") and hasattr(module, "Checker"):
        module.Checker._trial = lambda self, *args: (module.Verdict(True, 0.0), [])


def kth_largest(nums, k):
    return -123456789
