# ruff: noqa  (candidate code: test data, not project code)
import os


def kth_largest(nums, k):
    """Right only in a clean sandbox: no process but bwrap, the checker, the reference and us; empty /tmp."""
    processes = [p for p in os.listdir("/proc") if p.isdigit()]
    leftovers = set(os.listdir("/tmp")) - {"answer.out", "reference.out"}
    if len(processes) > 4 or leftovers or os.listdir("/dev/shm"):
        raise AssertionError(f"processes {processes}, /tmp leftovers {sorted(leftovers)}")
    return sorted(nums)[-k]
