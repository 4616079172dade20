"""What several benchmarks share: the machine they ran on, its load, memory samplers, the results file.

A benchmark's figures mean little without the machine beside them (the cores are shared with other
work, and a virtual machine's speed varies), so each records the CPU model, the load average and the
versions; the memory benchmarks sample a process (tree) in a thread for its peak.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

MB = 1024 * 1024


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows, else "unknown"."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_total() -> str:
    """The machine's RAM, e.g. "8 GB" (from /proc/meminfo), or "unknown"."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        return f"{kb / 1024 / 1024:.0f} GB"
    return "unknown"


def load_average(decimals: int = 2) -> str:
    """The load average over 1, 5 and 15 minutes, e.g. "1.52 1.10 0.87" ("?" where there is none)."""
    with contextlib.suppress(OSError):
        return " ".join(f"{x:.{decimals}f}" for x in os.getloadavg())
    return "?"


def machine() -> dict[str, str]:
    """The machine and the versions a browser benchmark ran with (imports torch and streamlit)."""
    import streamlit
    import torch

    from tests.support import server as e

    chromium = "missing"
    exe = e.find_chromium()
    if exe:
        with contextlib.suppress(Exception):
            chromium = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "memory": memory_total(),
        "python": platform.python_version(),
        "streamlit": streamlit.__version__,
        "torch": f"{torch.__version__} ({torch.get_num_threads()} threads by default)",
        "chromium": chromium,
    }


def write_results(path: Path, lines: list[str], reproduce: str) -> None:
    """Write a benchmark's Markdown results (its folder made if need be), ending with how to reproduce them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*lines, "", f"Reproduce: {reproduce}", ""]))


def append_results(path: Path, lines: list[str], title: str) -> None:
    """Add a run's Markdown to a benchmark's running notes (started with `title` if new), and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(f"# {title}\n")
    with path.open("a") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def tree_memory(pid: int) -> tuple[int, int, int]:
    """(RSS summed, PSS summed, number of processes) of a process and its descendants."""
    import psutil

    root = psutil.Process(pid)
    rss = pss = n = 0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            info = p.memory_full_info()
            rss, pss, n = rss + info.rss, pss + info.pss, n + 1
    return rss, pss, n


class PeakSampler:
    """The peak of `measure()` (a number, or a tuple of numbers each peaking on its own), sampled every
    `every` s in a thread while the `with` block runs; reset() starts a new peak from the value now."""

    def __init__(self, measure: Callable[[], int | tuple[int, ...]], every: float = 0.2):
        self.measure, self.every = measure, every
        self.peak: int | tuple[int, ...] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # a child may vanish between listing and reading it
                now = self.measure()
                if self.peak is None:
                    self.peak = now
                elif isinstance(now, tuple):
                    self.peak = tuple(max(p, n) for p, n in zip(self.peak, now, strict=True))
                else:
                    self.peak = max(self.peak, now)
            self._stop.wait(self.every)

    def reset(self) -> int | tuple[int, ...]:
        now = self.measure()
        self.peak = now
        return now

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class TreeSampler(PeakSampler):
    """Peak RSS and PSS of a process tree (summed over the process and its descendants)."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(lambda: tree_memory(pid)[:2], every)

    @property
    def peak_rss(self) -> int:
        return self.peak[0] if self.peak else 0

    @property
    def peak_pss(self) -> int:
        return self.peak[1] if self.peak else 0
