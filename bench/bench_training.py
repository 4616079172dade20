"""Training speed, accuracy and memory: fmnist_lib side by side with the tutorial's DataLoader loop.

    python -m bench.bench_training            # everything (~4 minutes on 2 cores)
    python -m bench.bench_training --no-cnn   # softmax only (~1 minute)

The CNN is measured twice, one run after the other: today's default as the code of
TODAY_COMMIT computes it (that commit's fmnist_lib, unpacked from git into a temporary
folder and run there), and the current default.

Each measurement runs in its own subprocess (so peak RSS is that run's alone),
one after the other in this one invocation on this machine. Writes
bench/results/training.md and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import cpu_model

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "training.md"
# The code before the faster CNN default (8 epochs, batch 128, cosine, no augmentation, NCHW).
TODAY_COMMIT = "35fc921"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(kind: str, epochs: int | None) -> dict:
    """One measured run; returns its history and memory figures."""
    import torch

    from fmnist_lib import TrainingRun, default_config, load_fashion_mnist, threads

    # The thread policy (fmnist_lib/threads.py), as the CLI trains; the tutorial's loop gets softmax's.
    threads.apply("softmax" if kind == "seed" else kind)
    t0 = time.perf_counter()
    data = load_fashion_mnist(download=False)
    load_s = time.perf_counter() - t0
    rss_before = _rss_mb()
    start = time.perf_counter()
    if kind == "seed":
        from tools.seed_loop import run

        # The tutorial's loop reads the same files through torchvision's FashionMNIST.
        root = str(Path(data.source))
        if not (Path(root) / "FashionMNIST" / "raw").is_dir():
            root = str(ROOT / "data")
        history = run(root, epochs=epochs or 10, seed=0)
    else:
        config = default_config(kind, epochs=epochs)
        r = TrainingRun(config, classes=data.classes)
        r.fit(data)
        history = [e.to_dict() for e in r.history]
    total = time.perf_counter() - start
    return {
        "kind": kind,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "data_load_s": load_s,
        "history": history,
        "total_s": total,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _run_worker(kind: str, epochs: int | None, cwd: Path = ROOT) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_training", "--worker", kind]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # The process's CPU seconds (all threads, imports and data load included): other work on the
    # shared cores stretches wall time much more than this, so it backs up a wall-time comparison.
    result["process_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def _run_worker_at(commit: str, kind: str) -> dict:
    """The worker as the code of `commit` runs it (its fmnist_lib and bench, unpacked from git)."""
    with tempfile.TemporaryDirectory(prefix="bench-today-") as tmp:
        archive = subprocess.run(["git", "archive", commit, "fmnist_lib", "bench"], cwd=ROOT, capture_output=True)
        if archive.returncode != 0:
            raise SystemExit(f"cannot unpack {commit}: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        return _run_worker(kind, None, cwd=Path(tmp))


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _per_epoch(model: str, which: str, result: dict) -> list[str]:
    """A paragraph of a run's test accuracy after each epoch."""
    accs = ", ".join(f"{e['test_acc']:.1%}" for e in result["history"])
    return ["", f"{model} test accuracy per epoch, {which}: {accs}"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", choices=("seed", "softmax", "cnn"), help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    p.add_argument("--no-cnn", action="store_true", help="skip the CNN run (about 90 s)")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.epochs)))
        return

    print("Running the tutorial's loop (10 epochs), then fmnist_lib's (10 epochs)...", file=sys.stderr)
    load_before = _uptime()
    seed = _run_worker("seed", None)
    ours = _run_worker("softmax", None)
    cnn_today = None if args.no_cnn else _run_worker_at(TODAY_COMMIT, "cnn")
    cnn = None if args.no_cnn else _run_worker("cnn", None)
    load_after = _uptime()

    def med(h):
        # Median epoch time; epoch 1 also pays one-off warm-up costs, so it is reported apart.
        return statistics.median(e["seconds"] for e in h)

    seed_s, ours_s = med(seed["history"]), med(ours["history"])
    speedup = seed_s / ours_s
    seed_acc, ours_acc = seed["history"][-1]["test_acc"], ours["history"][-1]["test_acc"]
    lines = [
        "# Training benchmark",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), torch threads {ours['threads']}, "
        f"OMP_WAIT_POLICY={ours['omp_wait_policy'] or 'unset'} for both loops, "
        f"Python {platform.python_version()}; measured {time.strftime('%Y-%m-%d %H:%M')}, "
        "all runs one after the other in one invocation of `python -m bench.bench_training`.",
        "",
        f"Load before: `{load_before}`; after: `{load_after}` (other processes share the 2 cores).",
        "",
        "| measurement | target | tutorial's loop | fmnist_lib | result |",
        "|---|---|---|---|---|",
        f"| softmax, tutorial settings (lr 0.1, batch 256, 10 epochs, seed 0): test accuracy | ≥ 82% "
        f"| {seed_acc:.1%} | {ours_acc:.1%} | {'pass' if ours_acc >= 0.82 else 'FAIL'} |",
        f"| softmax: seconds per epoch (median of 10, incl. test evaluation) | ≥ 20× faster (aim 30×) "
        f"| {seed_s:.3f} s | {ours_s:.3f} s | **{speedup:.1f}×** {'pass' if speedup >= 20 else 'FAIL'} |",
        f"| softmax: first epoch (includes warm-up) | | {seed['history'][0]['seconds']:.3f} s "
        f"| {ours['history'][0]['seconds']:.3f} s | |",
        f"| softmax: examples per second | | {60000 / seed_s:,.0f} | {60000 / ours_s:,.0f} | |",
        f"| softmax: whole 10-epoch run | | {seed['total_s']:.1f} s | {ours['total_s']:.2f} s | |",
        f"| softmax: peak RSS of the process | reported | {seed['peak_rss_mb']:.0f} MB "
        f"| {ours['peak_rss_mb']:.0f} MB (before training: {ours['rss_before_mb']:.0f} MB) | |",
        f"| data load (memory-mapped tensor cache after the first read) | | | {ours['data_load_s']:.2f} s | |",
    ]
    if cnn:
        from fmnist_lib import default_config

        c = default_config("cnn")
        t_acc, t_wall = cnn_today["history"][-1]["test_acc"], cnn_today["total_s"]
        acc, wall = cnn["history"][-1]["test_acc"], cnn["total_s"]
        ok = acc >= 0.92 and wall <= t_wall / 2
        aug = f"augmentation: {c.augment}"
        lines += [
            f"| small CNN, today's default (code of {TODAY_COMMIT}: 8 epochs, Adam 1e-3 cosine, batch 128): "
            f"test accuracy and wall time | reference | | {t_acc:.1%} in {t_wall:.0f} s | |",
            f"| small CNN, new default ({c.epochs} epochs, Adam {c.lr:g} {c.schedule}, batch {c.batch_size}, "
            f"channels-last, {aug}) | ≥ 92.0% in ≤ half of today's | | {acc:.1%} in {wall:.0f} s "
            f"(**{t_wall / wall:.2f}× faster**) | {'pass' if ok else 'FAIL'} |",
            f"| small CNN: seconds per epoch (median), today's / new | | | "
            f"{med(cnn_today['history']):.1f} s / {med(cnn['history']):.1f} s | |",
            f"| small CNN: CPU seconds of the whole process (all threads), today's / new | reported | | "
            f"{cnn_today['process_cpu_s']:.0f} s / {cnn['process_cpu_s']:.0f} s "
            f"(**{cnn_today['process_cpu_s'] / cnn['process_cpu_s']:.2f}× less**) | |",
            f"| small CNN: peak RSS of the process, today's / new | reported | | "
            f"{cnn_today['peak_rss_mb']:.0f} MB / {cnn['peak_rss_mb']:.0f} MB | |",
        ]
        lines += _per_epoch("CNN", "today's default", cnn_today)
        lines += _per_epoch("CNN", "new default", cnn)
    lines += _per_epoch("Softmax", "tutorial's loop", seed)
    lines += _per_epoch("Softmax", "fmnist_lib", ours)
    lines += [""]
    text = "\n".join(lines)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
