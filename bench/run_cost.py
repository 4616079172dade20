"""The whole CPU cost of one training run: the app (server + worker) against the CLI, side by side (issue 25).

    python -m bench.run_cost [--repeats 5] [--skip-app] [--out bench/results/classroom.md]

The tutorial's softmax run (10 epochs, seed 0) trained in these ways, alternating within each repeat so that a
change in the machine's other load hits them all alike:

* **CLI**: a fresh process (as `python -m fmnist_lib train`: the thread policy, the data mapped, `fit`), its
  training's CPU seconds (all threads) and minor page faults;
* **worker, first job**: a new `TrainingPool(1)` (forkserver, one worker), the run's snapshot submitted as
  lab_ui/training.py does; the worker's CPU for the job (as the pool records it, `JobView.worker_cpu_s`) and its
  minor page faults (from /proc, between the idle worker before and after the job);
* **worker, second job**: the same run again in the same worker (a server's workers serve many jobs);
* **pool, server side**: this process's CPU while it waited for each job (the pool's thread receiving the
  worker's messages and snapshots);
* **the app**: a `streamlit run` server (started once, its first Train press not counted: the server's one-time
  costs) and one Chromium session per repeat pressing Train: the server process's CPU from the click until the
  page shows the test accuracy (the page's script runs, the live panel's reruns, the pool's thread, the web
  server), and the worker's CPU for the job (the server's job log, $FMNIST_JOB_LOG). Chromium's own CPU is not
  counted: in a class each browser runs on its learner's laptop.

Reported: each figure per repeat and the medians, ÷ the CLI's median (target: the app's server + worker ≤ 1.3×
the CLI), the load average before and after. Appends the table to `--out` and prints it.
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
import tempfile
import time
from pathlib import Path

from bench.common import append_results, cpu_model, load_average

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "classroom.md"
COST_TARGET = 1.3  # server + worker CPU of one app run, at most this many times the CLI's for the same run
TICKS = os.sysconf("SC_CLK_TCK")


def cli_run() -> dict:
    """In this fresh process: the CLI's training of the tutorial's softmax run (its CPU and page faults)."""
    from fmnist_lib import TrainingRun, default_config, load_fashion_mnist
    from fmnist_lib import threads as policy
    from fmnist_lib.heap import keep_freed_memory

    config = default_config("softmax")
    policy.apply(config.model)
    keep_freed_memory()  # as the CLI's train does
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


class App:
    """A server and a browser for the app's runs; `measure()` presses Train in a new session and returns the costs."""

    def __init__(self, tmp: Path) -> None:
        from playwright.sync_api import sync_playwright

        from tests.support import server as e

        self.e, self.job_log = e, tmp / "jobs.jsonl"
        self.pw = sync_playwright().start()
        self.browser = e.launch_chromium(self.pw)
        self.srv = e.StreamlitServer(
            log_path=e.ARTIFACTS / "bench-run-cost.log", env={"FMNIST_JOB_LOG": str(self.job_log)}
        )
        self.srv.start()
        self.srv.wait_healthy(timeout=120)
        time.sleep(8)  # the warm-up: the data, the workers, the default model
        self.first = self.measure()  # the server's first Train press: its one-time costs, reported apart

    def measure(self) -> dict:
        from bench.bench_classroom import open_session, press_train, wait_accuracies, wait_records

        ctx, page, _ = open_session(self.browser, str(self.srv.url))
        try:
            time.sleep(1.0)  # the page's own first script runs are over
            since, cpu0 = time.time(), proc_stat(self.srv.pid)[1]
            ((_, acc),) = wait_accuracies([page], press_train([page]))
            server = proc_stat(self.srv.pid)[1] - cpu0
            (job,) = wait_records(self.job_log, since, 1)
        finally:
            ctx.close()
        return {
            "cpu_s": server + job["worker_cpu_s"],
            "server_cpu_s": server,
            "worker_cpu_s": job["worker_cpu_s"],
            "reruns": job["reruns"],
            "test_acc": acc / 100,
            "acc_text": f"{acc:.1f}%",  # as the page shows it
        }

    def close(self) -> None:
        self.srv.stop()
        self.browser.close()
        self.pw.stop()


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(runs: dict[str, list[dict]], app_first: dict | None, load: tuple[str, str], command: str) -> list[str]:
    import torch

    cli = _median(runs["cli"], "cpu_s")

    def row(name: str, rs: list[dict], faults: bool = True, server: bool = True) -> str:
        per = ", ".join(f"{r['cpu_s']:.2f}" for r in rs)
        flt = ", ".join(f"{r['minflt']:,}" for r in rs) if faults else "-"
        srv = f"{_median(rs, 'server_cpu_s'):.3f} s" if server else "-"
        ratio = f"**{_median(rs, 'cpu_s') / cli:.2f}×**" if rs is not runs["cli"] else "1"
        accs = ", ".join(sorted({r.get("acc_text") or f"{r['test_acc']:.2%}" for r in rs}))
        return f"| {name} | {per} | {_median(rs, 'cpu_s'):.2f} s | {ratio} | {flt} | {srv} | {accs} |"

    lines = [
        "",
        f"### The whole cost of one run, side by side, {time.strftime('%Y-%m-%d %H:%M')} (`{command}`)",
        "",
        f"{platform.node()}: {os.cpu_count()} cores ({cpu_model()}), torch {torch.__version__}, Python "
        f"{platform.python_version()}; {len(runs['cli'])} repeats, alternating: the CLI's training in a fresh process; "
        "a new pool of one worker training the same run twice"
        + ("; one Chromium session pressing Train on a running server" if runs.get("app") else "")
        + f". Load average (1, 5, 15 min) before → after: {load[0]} → {load[1]}.",
        "",
        "| the tutorial's softmax run | CPU per repeat | median | ÷ CLI | minor page faults per repeat "
        "| server-side CPU (median) | accuracy |",
        "|---|---|---|---|---|---|---|",
        row("CLI (training only)", runs["cli"], server=False),
        row("pool: the worker's first job (+ the pool's thread: server side)", runs["first"]),
        row("pool: the worker's second job", runs["second"]),
    ]
    if runs.get("app"):
        app = runs["app"]
        lines.append(row("**the app: server + worker** (server side: the server process)", app, faults=False))
        whole = _median(app, "cpu_s") / cli
        lines += [
            "",
            f"- The app's whole cost of one run: server {_median(app, 'server_cpu_s'):.2f} + worker "
            f"{_median(app, 'worker_cpu_s'):.2f} CPU-s (medians; per repeat server "
            + ", ".join(f"{r['server_cpu_s']:.2f}" for r in app)
            + ", worker "
            + ", ".join(f"{r['worker_cpu_s']:.2f}" for r in app)
            + ", live-panel reruns "
            + ", ".join(str(r["reruns"]) for r in app)
            + f") against the CLI's {cli:.2f}: **{whole:.2f}×** (target ≤ {COST_TARGET:g}×: "
            f"{'met' if whole <= COST_TARGET else 'NOT met'}).",
        ]
        if app_first is not None:
            lines.append(
                f"- The server's first Train press (not counted above: its one-time costs): server "
                f"{app_first['server_cpu_s']:.2f} + worker {app_first['worker_cpu_s']:.2f} CPU-s."
            )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run_cost", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-app", action="store_true", help="without the server and browser")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.cli:
        print(json.dumps(cli_run()))
        return 0
    load_before = load_average(1)
    runs: dict[str, list[dict]] = {"cli": [], "first": [], "second": [], "app": []}
    app = None if args.skip_app else App(Path(tempfile.mkdtemp(prefix="bench-run-cost-")))
    try:
        for rep in range(args.repeats):
            # Alternating the order, so a drift in the machine's load is shared out.
            order = ["cli", "pool", "app"] if rep % 2 == 0 else ["app", "pool", "cli"]
            for what in order:
                if what == "cli":
                    runs["cli"].append(measure_cli())
                elif what == "pool":
                    a, b = measure_pool()
                    runs["first"].append(a)
                    runs["second"].append(b)
                elif app is not None:
                    runs["app"].append(app.measure())
            print(
                f"[{rep + 1}/{args.repeats}] "
                + ", ".join(f"{k} {v[-1]['cpu_s']:.2f} s" for k, v in runs.items() if v)
                + f", load {load_average(1)}",
                file=sys.stderr,
            )
    finally:
        if app is not None:
            app.close()
    command = "python -m bench.run_cost " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = report(runs, app.first if app else None, (load_before, load_average(1)), command.strip())
    append_results(args.out, lines, "The classroom benchmark: many sessions pressing Train at once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
