"""Resource limits a candidate runner sets on itself right after the fork, before the answer loads."""

from __future__ import annotations

import resource
import sys
from typing import Any

RECURSION_LIMIT = 20_000
"""Deep enough for a recursive find() on a long chain; the stack limit below keeps C recursion safe."""
STACK_BYTES = 256 << 20


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def apply(limits: dict[str, Any]) -> None:
    """Set rlimits (soft = hard, so the answer cannot raise them back).

    The address-space limit is on top of what the warm process already maps (torch maps a lot
    of virtual memory it never touches), so `memory_bytes` is what the answer itself may add.
    """
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    address_space = _vm_size() + int(limits["memory_bytes"]) + STACK_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_STACK, (STACK_BYTES, STACK_BYTES))
    resource.setrlimit(resource.RLIMIT_NPROC, (int(limits["max_processes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["max_file_bytes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(limits["max_open_files"]),) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.setrecursionlimit(RECURSION_LIMIT)
