# task: topk; expect: failed|killed|timeout
# ruff: noqa  (candidate code: test data, not project code)
"""Leave a daemonised grandchild that would kill every later answer; the checker's sweep kills it."""

import os
import signal
import time


def kth_largest(nums, k):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                for pid in os.listdir("/proc"):
                    if pid.isdigit() and int(pid) != os.getpid():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except OSError:
                            pass
                time.sleep(0.05)
        os._exit(0)
    return None
