"""The whole CPU cost of one training run: the app's worker against the CLI, side by side (issue 25).

    python -m bench.run_cost [--repeats 3] [--out bench/results/classroom.md]

The tutorial's softmax run (10 epochs, seed 0) trained three ways, alternating within each repeat so that a
change in the machine's other load hits them all alike:

* **CLI**: a fresh process (as `python -m fmnist_lib train`: the thread policy, the data mapped, `fit`), its
  training's CPU seconds (all threads) and minor page faults;
* **worker, first job**: a new `TrainingPool(1)` (forkserver, one worker), the run's snapshot submitted as
  lab_ui/training.py does; the worker's CPU for the job (as the pool records it, `JobView.worker_cpu_s`) and its
  minor page faults (from /proc, between the idle worker before and after the job);
* **worker, second job**: the same run again in the same worker (a server's workers serve many jobs);
* **pool, server side**: this process's CPU while it waited for each job (the pool's thread receiving the
  worker's messages and snapshots: a server pays it beside its live panel's reruns, measured by
  bench/bench_classroom.py).

Reported: each figure per repeat and the medians, worker ÷ CLI (target: server + worker ≤ 1.3× the CLI), the
load average before and after. Appends the table to `--out` and prints it.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import cpu_model, load_average

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "classroom.md"
COST_TARGET = 1.3  # server + worker CPU of one app run, at most this many times the CLI's for the same run
TICKS = os.sysconf("SC_CLK_TCK")


def cli_run() -> dict:
    """In this fresh process: the CLI's training of the tutorial's softmax run (its CPU and page faults)."""
    from fmnist_lib import TrainingRun, default_config, load_fashion_mnist
    from fmnist_lib import threads as policy

    config = default_config("softmax")
    policy.apply(config.model)
    data = load_fashion_mnist(download=False)
    run = TrainingRun(config, classes=data.classes)
    before, cpu0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    run.fit(data)
    cpu, after = time.process_time() - cpu0, resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": cpu, "minflt": after.ru_minflt - before.ru_minflt, "test_acc": run.test_acc}


def measure_cli() -> dict:
    cmd = [sys.executable, "-m", "bench.run_cost", "--cli"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def proc_stat(pid: int) -> tuple[int, float]:
    """(minor page faults, CPU seconds: user + system) of a process, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 (state) is fields[0]
    return int(fields[7]), (int(fields[11]) + int(fields[12])) / TICKS


def wait_idle(pid: int, quiet: float = 0.5, timeout: float = 60.0) -> None:
    """Until the worker's CPU time stops growing for `quiet` seconds (it has imported and mapped the data)."""
    deadline = time.monotonic() + timeout
    last = proc_stat(pid)[1]
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = proc_stat(pid)[1]
        if now == last:
            return
        last = now


def measure_job(pool, pid: int) -> dict:
    """One softmax run through the pool's worker `pid` (idle before): the worker's and this process's CPU."""
    from fmnist_lib import TrainingRun, default_config

    run = TrainingRun(default_config("softmax"))
    flt0, _ = proc_stat(pid)
    own0 = time.process_time()
    job = pool.submit(run.snapshot(), run.config.epochs)
    view = job.wait_done(timeout=600)
    own = time.process_time() - own0
    time.sleep(0.05)  # the worker's last send is after its "cpu" message
    flt1, _ = proc_stat(pid)
    if view.error or view.snapshot is None:
        raise SystemExit(f"the job failed: {view.error}")
    run.restore(view.snapshot)
    return {"cpu_s": view.worker_cpu_s, "minflt": flt1 - flt0, "server_cpu_s": own, "test_acc": run.test_acc}


def measure_pool() -> tuple[dict, dict]:
    """A new pool of one worker: its first job and its second."""
    from fmnist_lib import load_fashion_mnist
    from fmnist_lib.jobs import TrainingPool

    pool = TrainingPool(1, functools.partial(load_fashion_mnist, download=False), abandon_after=None)
    try:
        (pid,) = pool.worker_pids()
        wait_idle(pid)
        return measure_job(pool, pid), measure_job(pool, pid)
    finally:
        pool.close()


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(cli: list[dict], first: list[dict], second: list[dict], load: tuple[str, str], command: str) -> list[str]:
    import torch

    def row(name: str, rs: list[dict], server: bool) -> str:
        per = ", ".join(f"{r['cpu_s']:.2f}" for r in rs)
        flt = ", ".join(f"{r['minflt']:,}" for r in rs)
        srv = f"{_median(rs, 'server_cpu_s'):.3f} s" if server else "-"
        ratio = f"**{_median(rs, 'cpu_s') / _median(cli, 'cpu_s'):.2f}×**" if server else "1"
        accs = ", ".join(sorted({f"{r['test_acc']:.2%}" for r in rs}))
        return f"| {name} | {per} | {_median(rs, 'cpu_s'):.2f} s | {ratio} | {flt} | {srv} | {accs} |"

    cli_cpu = _median(cli, "cpu_s")
    whole = [
        (f"{name}", (_median(rs, "cpu_s") + _median(rs, "server_cpu_s")) / cli_cpu)
        for name, rs in (("first job", first), ("second job", second))
    ]
    return [
        "",
        f"### The whole cost of one run, worker against CLI, {time.strftime('%Y-%m-%d %H:%M')} (`{command}`)",
        "",
        f"{platform.node()}: {os.cpu_count()} cores ({cpu_model()}), torch {torch.__version__}, Python "
        f"{platform.python_version()}; {len(cli)} repeats, each: the CLI's training in a fresh process, then a new "
        "pool of one worker training the same run twice. Load average (1, 5, 15 min) before → after: "
        f"{load[0]} → {load[1]}.",
        "",
        "| the tutorial's softmax run | CPU per repeat | median | ÷ CLI | minor page faults per repeat "
        "| pool's server-side CPU (median) | accuracy |",
        "|---|---|---|---|---|---|---|",
        row("CLI (training only)", cli, False),
        row("worker, first job", first, True),
        row("worker, second job", second, True),
        "",
        *(
            f"- Worker + the pool's server side, {name}: **{ratio:.2f}×** the CLI (target ≤ {COST_TARGET:g}×: "
            f"{'met' if ratio <= COST_TARGET else 'NOT met'}; the live panel's reruns come on top: bench_classroom)."
            for name, ratio in whole
        ),
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run_cost", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.cli:
        print(json.dumps(cli_run()))
        return 0
    load_before = load_average(1)
    cli, first, second = [], [], []
    for rep in range(args.repeats):
        # Alternating which goes first, so a drift in the machine's load is shared out.
        order = ("cli", "pool") if rep % 2 == 0 else ("pool", "cli")
        for what in order:
            if what == "cli":
                cli.append(measure_cli())
            else:
                a, b = measure_pool()
                first.append(a)
                second.append(b)
        print(
            f"[{rep + 1}/{args.repeats}] CLI {cli[-1]['cpu_s']:.2f} s, worker {first[-1]['cpu_s']:.2f} / "
            f"{second[-1]['cpu_s']:.2f} s, load {load_average(1)}",
            file=sys.stderr,
        )
    command = "python -m bench.run_cost " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = report(cli, first, second, (load_before, load_average(1)), command.strip())
    with args.out.open("a") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
