# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Write outside the private /tmp: the harness, the interpreter, the venv, /usr."""

import os
import sys

TARGETS = [
    "/opt/gradeflow/gf_harness/pwned.py",
    "/opt/gradeflow/venv/pwned",
    "/usr/lib/pwned",
    "/pwned",
    os.path.join(sys.base_prefix, "pwned"),
]


def kth_largest(nums, k):
    for target in TARGETS:
        try:
            with open(target, "w") as out:
                out.write("x")
            return sorted(nums)[-k]
        except OSError:
            pass
    raise PermissionError("nothing writable outside /tmp")
