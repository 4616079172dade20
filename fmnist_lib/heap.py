"""glibc's heap in a long-lived training process: memory a batch frees is kept for the next one.

glibc returns freed memory at the top of its heap to the kernel once more than a threshold (at most
2 x the largest block freed so far, ~12.5 MB after a softmax test pass) lies free there, and whether a freed
block joins the top depends on what else the process has allocated since. In the app's training workers it
did: each test pass's 6 MB float batches were given back and faulted in again, page by page, ~60,000 minor
page faults and 0.2-0.4 CPU-s per 10-epoch softmax run that the CLI's process, laid out differently, did
not pay (issue 25, bench/results/classroom.md). Fixed thresholds make it the same in every process: blocks up
to MMAP_THRESHOLD come from the heap, and it keeps up to TRIM_THRESHOLD free at its top.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
# glibc's own ceiling for its moving threshold (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit), and twice it for the
# top, as its moving rule sets: what a process reaches anyway after freeing a 32 MB block, made certain.
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD


def keep_freed_memory() -> bool:
    """Set this process's malloc thresholds (above). False where the C library has no mallopt (not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already uses
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mmap first: setting either disables glibc's moving thresholds, so both are set.
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]
