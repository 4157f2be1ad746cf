"""Resource limits a candidate runner sets on itself right after the fork, before the answer loads."""

from __future__ import annotations

import resource
import sys

from ._records import Limits

RECURSION_LIMIT = 20_000
"""Deep enough for a recursive find() on a long chain; the stack limit below keeps C recursion safe."""
STACK_BYTES = 256 << 20


def _status_bytes(field: str) -> int:
    """A size from /proc/self/status (VmSize, VmData), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


def memory_limit(device: str) -> tuple[int, str]:
    """The rlimit that bounds an answer's host memory, and the /proc field it adds to.

    On the CPU: the address space (RLIMIT_AS). On a GPU that cannot work: CUDA reserves tens of GB of
    address space it never backs (unified addressing), and the answer's own reservations would be refused
    at random. RLIMIT_DATA counts only private writable mappings and the heap (Linux >= 4.7), which is
    where an answer's host memory goes, and leaves CUDA's inaccessible reservations out.
    """
    if device == "cuda":
        return resource.RLIMIT_DATA, "VmData"
    return resource.RLIMIT_AS, "VmSize"


def apply(limits: Limits, device: str = "cpu") -> None:
    """Set rlimits (soft = hard, so the answer cannot raise them back).

    The memory limit is on top of what the warm process already maps (torch maps a lot of virtual
    memory it never touches), so `memory_bytes` is what the answer itself may add.
    """
    cpu = limits.cpu_seconds
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    which, field = memory_limit(device)
    memory = _status_bytes(field) + limits.memory_bytes + STACK_BYTES
    resource.setrlimit(which, (memory, memory))
    resource.setrlimit(resource.RLIMIT_STACK, (STACK_BYTES, STACK_BYTES))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.setrecursionlimit(RECURSION_LIMIT)
