"""How much memory an allocation may use, how to say so in an error message, and
how the C heap behaves while a fit trains."""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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


# glibc's mallopt parameters (malloc.h) and the values skacai trains with.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20  # the ceiling of glibc's own dynamic threshold (64-bit)
_TRIM_WHILE_TRAINING = 1 << 30
_TRIM_AFTER = 2 * _MMAP_THRESHOLD  # glibc's own rule: twice the mmap threshold
_heap_lock = threading.Lock()
_heap_users = 0


def _glibc():
    """The C library's ``mallopt`` and ``malloc_trim``, or None off glibc or when
    the environment variable ``SKACAI_TUNE_MALLOC`` is ``0``."""
    if os.environ.get("SKACAI_TUNE_MALLOC", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        return libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return None


@contextmanager
def steady_heap(device) -> Iterator[None]:
    """Keep the C heap's freed memory for reuse while a CPU fit trains.

    Each training step allocates and frees many activation buffers of a few
    MiB. With glibc's default rules, depending on the order of earlier
    allocations, the heap's top can be given back to the system after each
    step and faulted in again by the next: some processes then train markedly
    slower than others (measured in ``docs/performance.md``). For the block,
    buffers up to 32 MiB come from the heap and up to 1 GiB of freed heap
    stays mapped; after the last concurrent fit the heap keeps at most 64 MiB
    free (glibc's own ceiling) and the rest is released (``malloc_trim``).
    Nothing happens off glibc, on other devices, or with
    ``SKACAI_TUNE_MALLOC=0`` in the environment.
    """
    global _heap_users
    calls = _glibc() if torch.device(device).type == "cpu" else None
    if calls is None:
        yield
        return
    mallopt, malloc_trim = calls
    with _heap_lock:
        if _heap_users == 0:
            mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
            mallopt(_M_TRIM_THRESHOLD, _TRIM_WHILE_TRAINING)
        _heap_users += 1
    try:
        yield
    finally:
        with _heap_lock:
            _heap_users -= 1
            if _heap_users == 0:
                mallopt(_M_TRIM_THRESHOLD, _TRIM_AFTER)
                malloc_trim(0)
