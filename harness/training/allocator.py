"""Keep freed tensor memory in the process (glibc), so MB-sized intermediates do not page-fault back
in.

glibc hands blocks above its mmap threshold (128 KiB at start, raised dynamically) back to the
operating system when they are freed and trims the heap top above its trim threshold; every new
tensor of that size then page-faults on first touch. The ensemble step allocates a few MB of
intermediates per step: on the medium benchmark config that was ~390 minor faults per step (~13% of
the step time on a 2-core VM), 44 with the thresholds below. Nothing computed changes.

Process-global, once per process, glibc only (elsewhere a no-op); ICLCHECK_MALLOC_TUNE=0 turns it
off."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

ENV = "ICLCHECK_MALLOC_TUNE"
M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 2**30


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; True if applied (False: disabled, or not glibc)."""
    if os.environ.get(ENV, "1").strip() == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
