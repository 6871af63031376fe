"""How much memory an allocation may use, and how to say so in an error message."""

from __future__ import annotations

import os

import torch


def available_bytes(device="cpu"):
    """Bytes free for new allocations on ``device``, or None where that is unknown.

    The CPU's is Linux's ``MemAvailable`` (what can be allocated without
    swapping), else the physical memory; a CUDA device's is its free memory.
    """
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return torch.cuda.mem_get_info(device)[0]
        except (RuntimeError, AssertionError):
            return None
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n):
    """``n`` bytes in words: ``"512 bytes"``, ``"3.2 MiB"``, ``"1.5 TiB"``."""
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        n /= 1024
        if n < 1024 or unit == "EiB":
            return f"{n:.3g} {unit}" if n < 1000 else f"{n:,.0f} {unit}"
    raise AssertionError("unreachable")
