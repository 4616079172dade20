"""fmnist_lib.heap: a training process keeps the memory its batches free instead of faulting it in again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# In a fresh process (its heap untouched by pytest's): three 6 MB blocks, written and freed, five times over, as a
# test pass's batches are; prints the minor page faults of those five rounds. The argument says whether the
# process first calls heap.keep_freed_memory().
_ROUNDS = """
import ctypes, resource, sys
from fmnist_lib import heap
if sys.argv[1] == "keep":
    assert heap.keep_freed_memory()
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
SIZE = 6 << 20
def one_round():
    blocks = [libc.malloc(SIZE) for _ in range(3)]
    for b in blocks:
        libc.memset(b, 1, SIZE)
    for b in blocks:
        libc.free(b)
one_round(); one_round()  # the first rounds may map the heap; later ones should reuse it
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    one_round()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _ROUNDS, mode], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_batches_are_reused_without_page_faults():
    """glibc's moving thresholds give the three freed blocks back (18 MB at the top of the heap: more than twice
    the largest block freed) and fault them in again each round; with the process's thresholds fixed they stay."""
    assert _faults("default") > 5 * 3 * (6 << 20) // 4096 // 2  # most of 5 rounds of 18 MB of 4 KB pages
    assert _faults("keep") < 200
