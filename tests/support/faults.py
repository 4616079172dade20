"""Faults of the machine for tests: a full disk, and a process without root's file powers.

Root reads and writes any file whatever its mode, so permission faults are only seen by a
process without the capabilities CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: `unprivileged`
runs a command under setpriv with both dropped. `full_disk` mounts a tiny tmpfs (root only)
so that writes fail with the real ENOSPC.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DROP = "-dac_override,-dac_read_search"


def unprivileged(args: list[str], *, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run args (e.g. [sys.executable, "-c", ...]) in the project folder as a process that file
    modes apply to: under setpriv without the DAC capabilities when root, else as it is."""
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file modes cannot be made to apply")
        args = ["setpriv", f"--bounding-set={DROP}", f"--inh-caps={DROP}", *args]
    return subprocess.run(
        args, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return unprivileged([sys.executable, "-c", code], **kwargs)


@contextlib.contextmanager
def full_disk(where: Path, size_kb: int = 16):
    """A folder on a tmpfs of size_kb: writes beyond it fail with ENOSPC. Skips unless it can mount."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs (a full disk) needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
