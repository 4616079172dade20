"""A small sweep for a faster CNN default: batch size, schedule, epochs and augmentation.

    nice .venv/bin/python -m bench.bench_cnn_sweep [--jobs 2] [--only NAME ...]

Each candidate is one whole training run (`TrainingRun.fit`, the library's own loop) in its own
process with one torch thread, several at a time when --jobs > 1. This machine is shared, so wall
time depends on who else is running; each row also gives the process's CPU seconds, which
depend much less on the load and rank the candidates' cost fairly. The final, side-by-side wall
time of today's default and the chosen one is bench/bench_training.py's.

Appends its table to bench/results/cnn_sweep.md with the machine's load (`uptime`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "cnn_sweep.md"
DONE = ROOT / "data" / "cnn_sweep.jsonl"  # each finished run, so an interrupted sweep keeps what it measured


# name -> TrainConfig overrides of default_config("cnn"). Round 1 (see the results file) used an
# earlier augmentation (fractional shifts, every image rescaled); these use augment.py as it is
# ("aug": mirror+shift; "aug: mirror only": mirror; the first measured that as mirror+shift with
# MAX_SHIFT 0 and SCALE_PROBABILITY 0, which draws the same mirror images).
def _onecycle_mirror(lr: float, epochs: int) -> dict:
    """Rounds 4-6: Adam at batch 128, one-cycle, trained on mirror images too; only the peak lr and epochs vary."""
    return dict(epochs=epochs, batch_size=128, lr=lr, schedule="onecycle", augment="mirror")


CANDIDATES = {
    "today: 8 ep, B128, cosine 1e-3": dict(epochs=8, batch_size=128, lr=1e-3, schedule="cosine", augment="off"),
    "B256 onecycle 3e-3, 5 ep": dict(epochs=5, batch_size=256, lr=3e-3, schedule="onecycle", augment="off"),
    "B256 onecycle 3e-3, 5 ep, aug": dict(
        epochs=5, batch_size=256, lr=3e-3, schedule="onecycle", augment="mirror+shift"
    ),
    "B256 onecycle 3e-3, 6 ep, aug": dict(
        epochs=6, batch_size=256, lr=3e-3, schedule="onecycle", augment="mirror+shift"
    ),
    "B256 onecycle 5e-3, 6 ep, aug": dict(
        epochs=6, batch_size=256, lr=5e-3, schedule="onecycle", augment="mirror+shift"
    ),
    "B128 onecycle 2e-3, 6 ep": dict(epochs=6, batch_size=128, lr=2e-3, schedule="onecycle", augment="off"),
    "B128 onecycle 2e-3, 6 ep, aug": dict(
        epochs=6, batch_size=128, lr=2e-3, schedule="onecycle", augment="mirror+shift"
    ),
    "B128 onecycle 2e-3, 6 ep, aug: mirror only": dict(
        epochs=6,
        batch_size=128,
        lr=2e-3,
        schedule="onecycle",
        augment="mirror",
    ),
    # Round 4: the mirror default one epoch longer, or at a higher peak lr.
    "B128 onecycle 2e-3, 7 ep, aug: mirror only": _onecycle_mirror(2e-3, 7),
    "B128 onecycle 3e-3, 6 ep, aug: mirror only": _onecycle_mirror(3e-3, 6),
    "B128 onecycle 3e-3, 7 ep, aug: mirror only": _onecycle_mirror(3e-3, 7),
    "B128 onecycle 4e-3, 7 ep, aug: mirror only": _onecycle_mirror(4e-3, 7),
    "B128 onecycle 4e-3, 6 ep, aug: mirror only": _onecycle_mirror(4e-3, 6),
    "B128 onecycle 5e-3, 6 ep, aug: mirror only": _onecycle_mirror(5e-3, 6),
    # Round 6: one epoch fewer, for a CPU where channels-last gains less per epoch.
    "B128 onecycle 4e-3, 5 ep, aug: mirror only": _onecycle_mirror(4e-3, 5),
    "B128 onecycle 5e-3, 5 ep, aug: mirror only": _onecycle_mirror(5e-3, 5),
}


def worker(overrides: dict) -> dict:
    import torch

    from fmnist_lib import TrainingRun, default_config, load_fashion_mnist

    torch.set_num_threads(1)
    data = load_fashion_mnist(download=False)
    config = default_config("cnn", **overrides)
    run = TrainingRun(config, classes=data.classes)
    wall, cpu = time.perf_counter(), time.process_time()
    run.fit(data, test_every_epoch=False)
    return {
        "test_acc": run.test_acc,
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "config": config.to_dict(),
    }


def _run(name: str) -> tuple[str, dict | None]:
    cmd = [sys.executable, "-m", "bench.bench_cnn_sweep", "--worker", json.dumps(CANDIDATES[name])]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"{name} failed:\n{proc.stderr}", file=sys.stderr)
        return name, None
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    DONE.parent.mkdir(parents=True, exist_ok=True)
    with DONE.open("a") as f:
        f.write(json.dumps({"name": name, **result}) + "\n")
    print(f"{name}: {result['test_acc']:.2%}, {result['cpu_s']:.0f} CPU s", file=sys.stderr, flush=True)
    return name, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--only", nargs="*", help="names of candidates to run (default: all)")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    names = args.only or list(CANDIDATES)
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M")
    with ThreadPoolExecutor(args.jobs) as pool:
        results = dict(pool.map(_run, names))
    load_after = os.getloadavg()
    lines = [
        "",
        f"## {started}: {len(names)} runs, {args.jobs} at a time, 1 torch thread each; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (2 cores)",
        "",
        "| candidate (Adam, channels-last SmallCNN) | test accuracy | CPU s | wall s |",
        "|---|---:|---:|---:|",
    ]
    for name in names:
        r = results[name]
        if r is None:
            lines.append(f"| {name} | failed | | |")
            continue
        lines.append(f"| {name} | {r['test_acc']:.2%} | {r['cpu_s']:.0f} | {r['wall_s']:.0f} |")
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text("# CNN sweep (bench/bench_cnn_sweep.py)\n")
    with RESULTS.open("a") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
