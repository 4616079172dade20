"""How many CPU threads torch uses for each model: the one place that decides it, by measurement.

torch's default is one thread per core. Its threads meet at a barrier after every operation, so when one of
them is descheduled (a browser, an indexer, another run on the same cores) the others wait: on 2 cores with one
busy process, the tutorial's 10 softmax epochs took 9-44 s at 2 threads against 1-2 s at 1 (issue 25,
bench/results/threads.md). A softmax step is too small to gain from a second thread even on an idle machine;
the CNN's convolutions are big enough to share (see POLICY).

Threads also change the bits: MKL splits a matrix product's sums differently at 1 and 2 threads, so the
softmax weights after 10 epochs differ in their last bits (the accuracy stays 82.3%). One fixed count per model,
whatever the machine's cores, gives every entry point (CLI, `make data`, the app's workers) the same run bit for
bit; `--threads N` trades that for speed on purpose. See docs/threads.md.
"""

from __future__ import annotations

import os

import torch

# Threads per model, measured by bench/bench_threads.py (the table is bench/results/threads.md).
# softmax: 1. Idle, 2 threads are no faster (a 256x784 product is too small to share); with a core busy they
#   are 5-30x slower. One thread is also what the app's workers always used: the same bits everywhere.
# cnn: see bench/results/threads.md for the figures behind this choice.
POLICY: dict[str, int] = {"softmax": 1, "cnn": 1}


def cores() -> int:
    """The cores this process may run on (its affinity mask: a container's or taskset's limit)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def threads_for(model: str, sharing: int = 1) -> int:
    """The policy's torch threads for `model`, never more than this process's share of the cores
    (`sharing` processes training side by side, as the app's workers do, split the cores between them)."""
    if model not in POLICY:
        raise ValueError(f"no thread policy for model {model!r}; known: {', '.join(POLICY)}")
    return max(1, min(POLICY[model], cores() // max(1, sharing)))


def apply(model: str, threads: int | None = None, sharing: int = 1) -> int:
    """Set torch's thread count for training or evaluating `model`: `threads` if given (the CLI's --threads),
    else the policy's. Returns the count in use.

    torch.set_num_threads may be called at any time, between runs too. The inter-op pool (torch.jit.fork
    and the like) is not used by this project's code, so it is left alone: torch only allows setting it
    before its first use, and no measurement here shows it matters.
    """
    n = threads_for(model, sharing) if threads is None else int(threads)
    if n < 1:
        raise ValueError(f"threads must be at least 1, got {n}")
    torch.set_num_threads(n)
    return torch.get_num_threads()


__all__ = ["POLICY", "apply", "cores", "threads_for"]
