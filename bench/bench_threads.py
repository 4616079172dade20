"""torch threads per model, alone and with one busy core, side by side: the measurements behind fmnist_lib.threads.

    python -m bench.bench_threads                  # softmax and CNN, 2 repeats (~3 minutes on 2 cores)
    python -m bench.bench_threads --skip-cnn       # softmax only (~1 minute)

For each model and each candidate setting (1 thread, 2 threads, every core; the last also with
OMP_WAIT_POLICY=passive, where torch's idle threads sleep instead of spinning) one training run in a fresh
subprocess (the setting applied before any work), once on the machine as it is ("idle") and once while this
bench keeps one core busy with a spinning Python process of its own (started before, killed after the run).
Softmax: the tutorial's 10 epochs (seed 0; the weights' hash shows whether the setting changes the bits).
CNN: its default settings for 2 epochs on the first 6,000 training images (test set evaluated each epoch).
Settings alternate within each repeat so a change in the machine's other load hits them all alike; the load
average before and after each run is kept. Writes bench/results/threads.md and prints it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench.common import cpu_model, load_average

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "threads.md"
CNN_TRAIN_IMAGES, CNN_EPOCHS = 6000, 2
SPIN = "while True: pass"
TARGET_BUSY = 1.5  # the policy's softmax run with a core busy, at most this many times its idle time


def worker(model: str, threads: int) -> dict:
    """One measured run in this fresh process: epoch times, CPU seconds, accuracy, the weights' hash."""
    import torch

    from fmnist_lib import TrainingRun, default_config, load_fashion_mnist
    from fmnist_lib import threads as policy

    in_use = policy.apply(model, threads or None)  # 0: the policy's count
    data = load_fashion_mnist(download=False)
    if model == "cnn":
        data = replace(
            data, train_images=data.train_images[:CNN_TRAIN_IMAGES], train_labels=data.train_labels[:CNN_TRAIN_IMAGES]
        )
        config = default_config("cnn", epochs=CNN_EPOCHS)
    else:
        config = default_config("softmax")
    run = TrainingRun(config, classes=data.classes)
    cpu0, t0 = time.process_time(), time.perf_counter()
    run.fit(data)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in run.model.state_dict().values())).hexdigest()
    return {
        "threads": in_use,
        "epochs": [e.seconds for e in run.history],
        "wall_s": wall,
        "cpu_s": cpu,
        "test_acc": run.history[-1].test_acc,
        "sha": digest[:12],
        "torch": torch.__version__,
    }


def measure(model: str, threads: int, wait: str | None, busy: bool, timeout: float) -> dict:
    """Run the worker in a subprocess (with OMP_WAIT_POLICY=wait if given), with a busy core or not.

    A run that takes longer than `timeout` s is killed and recorded as stopped (its time a lower bound): a
    collapsed setting would otherwise hold the bench for many minutes on a loaded machine."""
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if wait:
        env["OMP_WAIT_POLICY"] = wait
    else:
        env.pop("OMP_WAIT_POLICY", None)
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        if spinner is not None:
            time.sleep(0.3)  # spinning before the run starts
        before = load_average(1)
        cmd = [sys.executable, "-m", "bench.bench_threads", "--worker", model, "--threads", str(threads)]
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc = None
        after = load_average(1)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    if proc is None:
        stopped = {"epochs": [], "wall_s": timeout, "cpu_s": math.nan, "test_acc": None, "sha": "-", "stopped": True}
        return {"threads": threads, **stopped, "load": f"{before} → {after}"}
    if proc.returncode != 0:
        raise SystemExit(f"{model} at {threads} threads failed:\n{proc.stderr}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "load": f"{before} → {after}"}


def candidates(cores: int) -> list[tuple[int, str | None]]:
    """(threads, OMP wait policy): 1, 2 and every core (torch's default), the last also with passive waiting."""
    counts = sorted({1, 2, cores})
    return [(n, None) for n in counts] + [(cores, "passive")] if cores > 1 else [(1, None)]


def _label(threads: int, wait: str | None, cores: int) -> str:
    label = f"{threads} thread{'s' * (threads > 1)}"
    if threads == cores and cores > 1:
        label += " (torch's default)" if wait is None else ", OMP_WAIT_POLICY=passive"
    return label


def summarize(runs: list[dict]) -> dict:
    """Medians and worsts over the runs; a stopped run counts with its timeout (a lower bound, marked ≥)."""
    done = [r for r in runs if not r.get("stopped")]
    epochs = [s for r in done for s in r["epochs"]]
    at_least = "≥ " if len(done) < len(runs) else ""
    return {
        "total": statistics.median(r["wall_s"] for r in runs),
        "worst_total": max(r["wall_s"] for r in runs),
        "bound": at_least,
        "median_epoch": f"{statistics.median(epochs):.3f}" if epochs else "-",
        "worst_epoch": f"{max(epochs):.3f}" if epochs else "-",
        "cpu": f"{statistics.median(r['cpu_s'] for r in done):.1f}" if done else "-",
        "acc": sorted({f"{r['test_acc']:.1%}" for r in done}),
        "sha": sorted({r["sha"] for r in done}),
        "stopped": len(runs) - len(done),
        "load": "; ".join(r["load"] + (" (stopped)" if r.get("stopped") else "") for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", choices=("softmax", "cnn"), help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=2, help="runs of each setting in each condition (default 2)")
    p.add_argument("--skip-cnn", action="store_true")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds before a run is stopped (default 180)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads)))
        return 0

    import torch

    from fmnist_lib import threads as policy

    cores = policy.cores()
    models = ["softmax"] if args.skip_cnn else ["softmax", "cnn"]
    settings = candidates(cores)
    load_start, started = load_average(1), time.strftime("%Y-%m-%d %H:%M")
    raw: dict[tuple, list[dict]] = {}
    for rep in range(args.repeats):
        for model in models:
            for threads, wait in settings:
                for busy in (False, True):
                    r = measure(model, threads, wait, busy, args.timeout)
                    raw.setdefault((model, threads, wait, busy), []).append(r)
                    print(
                        f"[{rep + 1}/{args.repeats}] {model} {_label(threads, wait, cores)} {'busy' if busy else 'idle'}: "
                        f"{'stopped at ' if r.get('stopped') else ''}{r['wall_s']:.2f} s, worst epoch "
                        f"{max(r['epochs'], default=math.nan):.2f} s, load {r['load']}",
                        file=sys.stderr,
                    )
    lines = [
        "# torch threads per model, alone and with one busy core",
        "",
        f"`python -m bench.bench_threads {' '.join(argv if argv is not None else sys.argv[1:])}`".replace(" `", "`"),
        f"on {platform.node()}: {cores} cores ({cpu_model()}), torch {torch.__version__}, "
        f"Python {platform.python_version()}; {started}, {args.repeats} run(s) of each setting in each condition, "
        "settings alternating. Load average (1, 5, 15 min) at the start: "
        f"{load_start}; at the end: {load_average(1)}. *Idle* means no busy process of the bench's own; "
        "the load averages below show what else the machine ran.",
        "",
        "Busy: one spinning Python process (unpinned) started by the bench for the run. Softmax: the tutorial's "
        f"10 epochs; CNN: {CNN_EPOCHS} epochs of its defaults on {CNN_TRAIN_IMAGES:,} training images. Times are "
        "medians over the runs (whole run: training and each epoch's test evaluation), the worst epoch over all "
        "runs; CPU is the training's process CPU seconds (all threads). ≥: a run was stopped at the timeout "
        f"({args.timeout:g} s), its time counted as the timeout.",
        "",
        "| model | setting | policy | idle: run (worst) | idle: median / worst epoch | busy core: run (worst) "
        "| busy: median / worst epoch | busy ÷ idle | CPU idle / busy | accuracy | weights (sha256) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for model in models:
        chosen = policy.threads_for(model)
        idle_best = min(summarize(raw[(model, t, w, False)])["total"] for t, w in settings)
        for threads, wait in settings:
            i, b = summarize(raw[(model, threads, wait, False)]), summarize(raw[(model, threads, wait, True)])
            is_policy = threads == chosen and wait is None
            lines.append(
                f"| {model} | {_label(threads, wait, cores)} | {'**yes**' if is_policy else ''} "
                f"| {i['bound']}{i['total']:.2f} s ({i['worst_total']:.2f}) | {i['median_epoch']} / {i['worst_epoch']} s "
                f"| {b['bound']}{b['total']:.2f} s ({b['worst_total']:.2f}) | {b['median_epoch']} / {b['worst_epoch']} s "
                f"| **{b['total'] / i['total']:.1f}×** | {i['cpu']} / {b['cpu']} s "
                f"| {', '.join(sorted(set(i['acc'] + b['acc'])))} | {', '.join(sorted(set(i['sha'] + b['sha'])))} |"
            )
            if is_policy:
                ratio = b["total"] / i["total"]
                verdicts.append(
                    f"- {model}, the policy ({chosen} thread{'s' * (chosen > 1)}): busy ÷ idle **{ratio:.2f}×**"
                    + (
                        f" (target ≤ {TARGET_BUSY}×: {'met' if ratio <= TARGET_BUSY else 'NOT met'})"
                        if model == "softmax"
                        else ""
                    )
                    + f"; idle {i['total']:.2f} s against the best idle setting's {idle_best:.2f} s "
                    f"({i['total'] / idle_best:.2f}×)."
                )
    lines += ["", *verdicts, "", "Load average before → after each run (idle, busy; in run order):", ""]
    for (model, threads, wait, busy), runs in raw.items():
        lines.append(
            f"- {model}, {_label(threads, wait, cores)}, {'busy' if busy else 'idle'}: {summarize(runs)['load']}"
        )
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
