"""The host's memory: what this machine holds and what can be allocated now.

Settings are judged against ``machine_memory_bytes`` before any job (``pipeline.config_checks``);
a dataset file or a recording is refused before its arrays are allocated when it declares more
than ``available_memory_bytes`` (``envs/dataset_checks.py``, the importers, the SMAX recorder).
"""
from __future__ import annotations

import os
from pathlib import Path


def physical_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no bound
        return 1 << 62


def _cgroup_available() -> int | None:
    """What a cgroup v2 memory limit (a container, a SLURM job) still allows, or None."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text().strip()))
    except (OSError, ValueError):
        return None


def available_memory_bytes() -> int:
    """Memory that can be allocated now: psutil's ``available`` when installed, else the kernel's
    MemAvailable (``/proc/meminfo``), else physical memory; and no more than a cgroup limit leaves.
    Physical memory alone would let a file that declares more than is free through, and the
    load then dies with a bare ``MemoryError`` (or the OOM killer) naming no file."""
    avail = None
    try:
        import psutil
        avail = int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil is optional
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
    if avail is None:
        avail = physical_memory_bytes()
    group = _cgroup_available()
    return avail if group is None else min(avail, group)


def machine_memory_bytes() -> int:
    """The most memory one process of this machine can ever hold: physical memory, or less under a
    cgroup limit (a container, a SLURM job).  What a setting needs is judged against it before any
    job (``pipeline.config_checks``): a setting past it cannot run here however idle the machine."""
    total = physical_memory_bytes()
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            total = min(total, int(limit))
    except (OSError, ValueError):
        pass
    return total
