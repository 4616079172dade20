"""A class pressing Train at once: one server, then K replicas behind nginx, side by side in one run.

    python -m bench.bench_classroom [--sessions 6] [--replicas 2] [--skip-replicas] [--url URL] [--browser-nice 19]

For each deployment (one `streamlit run`, then deploy.run_replicas.Deployment with K replicas):

1. softmax: one session alone presses Train (softmax defaults), then N sessions (separate Chromium
   contexts) press it within about a second of each other; each one's time from its click until the
   page shows "Test accuracy" is measured in the browser (a MutationObserver), with its replica and
   accuracy. Target: the slowest within 4× the session alone, every accuracy the same.
2. CNN: N sessions train the small CNN for one epoch each; while they do, a further session opens
   Browse and then Upload (a photo): its time to draw each, against the same visit to the idle server.

Server and browser apart (a real class's browsers run on their own laptops): for each session of the
softmax phase, the server's record of its job ($FMNIST_JOB_LOG, written by lab_ui/training.py): the time it
waited in the pool's queue, trained in its worker, the worker's CPU seconds and the live panel's reruns (their
CPU in the server's script thread), next to the browser's click-to-result. Reported: the class's server-side
slowest (queue + training) ÷ the session alone (the cores allow N/cores), and the server process's CPU per live
session-second. The whole cost of one run: the server's and its worker's CPU for the session alone against the
CLI's for the same run (its training alone, bench.bench_threads' worker, and the whole `python -m fmnist_lib
train` process), measured in the same invocation.

The servers' memory (each process tree: server and training workers, RSS and PSS summed) before,
after, and at its peak. `--url` measures an already running deployment (without memory). The notes
go to bench/results/classroom.md; the README's table takes its figures from there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import TreeSampler, append_results, load_average, tree_memory
from deploy.run_replicas import Deployment
from tests.support import server as e
from tests.support.images import garment_photo

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
ACCURACY = re.compile(r"Test accuracy\s*:?\s*(\d{1,3}\.\d)\s*%")
TARGET = 4.0  # the slowest of the class within this many times the session alone
SERVER_TARGET = 3.5  # the same for the server-side time (queue + training): 6 sessions on 2 cores allow 3
COST_TARGET = 1.3  # server + worker CPU of one app run, at most this many times the CLI's for the same run

# In the page: the wall-clock time (ms) at which a new success message matching the pattern appears.
_WATCH = """(pattern) => {
    window.__done = null;
    const re = new RegExp(pattern);
    const seen = new Set([...document.querySelectorAll('[data-testid="stAlertContentSuccess"]')].map(n => n.innerText));
    const check = () => {
        for (const n of document.querySelectorAll('[data-testid="stAlertContentSuccess"]')) {
            if (re.test(n.innerText) && !seen.has(n.innerText) && window.__done === null) {
                window.__done = {t: Date.now(), text: n.innerText};
            }
        }
    };
    if (window.__watch) window.__watch.disconnect();  // an earlier phase's watch
    window.__watch = new MutationObserver(check);
    window.__watch.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
SOFTMAX_DONE = r"Finished 10 epochs.*Test accuracy"
CNN_DONE = r"Finished 1 epochs.*Test accuracy"


def open_session(browser, url: str, page_title: str = "Train"):
    ctx = e.new_context(browser)
    ctx.set_default_timeout(300_000)
    page = ctx.new_page()
    e.open_app(page, url, timeout=300)
    e.goto_page(page, page_title, timeout=300)
    replica = {c["name"]: c["value"] for c in ctx.cookies()}.get("fmnist_replica", "-")
    return ctx, page, replica


def choose_cnn_for_one_epoch(page) -> None:
    e.choose_model(page, "Small CNN")
    e.set_epochs(page, "Home")  # the minimum: 1 epoch


def press_train(pages: list, done: str = SOFTMAX_DONE) -> list[float]:
    """Click Train on every page in turn (each page watches for its new message matching `done`); the click times."""
    for page in pages:
        page.evaluate(_WATCH, done)
    clicked = []
    for page in pages:
        clicked.append(time.time())
        e.click_button(page, "Train")
    return clicked


def press_train_together(pages: list, done: str = SOFTMAX_DONE, lead: float = 2.0) -> list[float]:
    """Click Train on every page at one moment, `lead` seconds from now; the click times.

    Each page is handed its button and a timer first, so the clicks go out together however slowly the
    browsers run once training starts (a class on their own laptops clicks within a second; here the browsers
    share the server's cores, and one page's click can wait behind the training another's click started).
    """
    handles = []
    for page in pages:
        page.evaluate(_WATCH, done)
        handles.append(page.get_by_role("button", name="Train", exact=True).first.element_handle())
    at = time.time() + lead
    for handle in handles:
        handle.evaluate("(b, at) => setTimeout(() => b.click(), at - Date.now())", at * 1000)
    return [at] * len(pages)


def wait_accuracies(pages: list, clicked: list[float], timeout: float = 900.0) -> list[tuple[float, float]]:
    """Each page's (seconds from its click to its accuracy, the accuracy)."""
    out = []
    for page, t0 in zip(pages, clicked, strict=True):
        page.wait_for_function("() => window.__done !== null", timeout=timeout * 1000)
        done = page.evaluate("window.__done")
        out.append((done["t"] / 1000 - t0, float(ACCURACY.search(done["text"]).group(1))))
    return out


def visit_browse_and_upload(browser, url: str, photo: bytes) -> tuple[float, float]:
    """A session's (seconds to draw Browse, seconds from an upload to its Top-3) on Upload."""
    ctx, page, _ = open_session(browser, url, page_title="Home")
    try:
        t0 = time.perf_counter()
        e.goto_page(page, "Browse", timeout=300)
        page.locator('[data-testid="stMain"] [data-testid="stImage"]').first.wait_for(state="visible")
        browse = time.perf_counter() - t0
        e.goto_page(page, "Upload", timeout=300)
        t0 = time.perf_counter()
        e.upload(page, "shirt.jpg", photo, "image/jpeg", timeout=300, wait=False)
        page.locator('[data-testid="stMain"]').get_by_text("Predicted:").first.wait_for(state="visible")
        return browse, time.perf_counter() - t0
    finally:
        ctx.close()


def memory(pids: list[int]) -> tuple[int, int, int]:
    """(RSS summed, PSS summed) of the servers' process trees, and the servers' own RSS (without their workers)."""
    import psutil

    rss = pss = own = 0
    for pid in pids:
        r, p, _ = tree_memory(pid)
        rss, pss, own = rss + r, pss + p, own + psutil.Process(pid).memory_info().rss
    return rss, pss, own


def server_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) of the server processes themselves, without their training workers."""
    import psutil

    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def job_records(path: Path | None, since: float) -> list[dict]:
    """The job log's records of the jobs that ended after `since` (time.time()), in the order they ended."""
    if path is None or not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted((r for r in records if r["ended"] >= since), key=lambda r: r["ended"])


def wait_records(path: Path | None, since: float, n: int, timeout: float = 30.0) -> list[dict]:
    """The records of n jobs (each is written by the session's script run that takes the job's end in)."""
    deadline = time.monotonic() + timeout
    while len(records := job_records(path, since)) < n and time.monotonic() < deadline and path is not None:
        time.sleep(0.2)
    return records


def cli_cost() -> dict:
    """The CLI's CPU seconds for the tutorial's softmax run: its training alone (bench.bench_threads' worker:
    the thread policy, fit only) and the whole `python -m fmnist_lib train` process (imports, data, checkpoint)."""
    cmd = [sys.executable, "-m", "bench.bench_threads", "--worker", "softmax", "--threads", "0"]
    fit = json.loads(subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        train = [sys.executable, "-m", "fmnist_lib", "train", "--out", str(Path(tmp) / "m.pt")]
        subprocess.run(train, cwd=REPO, capture_output=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    whole = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"fit_cpu_s": fit["cpu_s"], "fit_wall_s": fit["wall_s"], "process_cpu_s": whole}


def measure(
    browser,
    label: str,
    url: str,
    pids: list[int],
    n: int,
    photo: bytes,
    cnn: bool = True,
    job_log: Path | None = None,
) -> dict:
    r = {"label": label, "n": n, "mem_before": memory(pids) if pids else None, "load_before": load_average(1)}
    samplers = [TreeSampler(pid) for pid in pids]
    for s in samplers:
        s.__enter__()
    try:
        # 1. softmax: one alone, then the class at once
        ctx, page, replica = open_session(browser, url)
        since, cpu0 = time.time(), server_cpu(pids) if pids else None
        ((alone, acc),) = wait_accuracies([page], press_train([page]))
        r["alone_jobs"] = wait_records(job_log, since, 1)
        r["alone_server_cpu"] = server_cpu(pids) - cpu0 if pids else None
        r["alone"] = (alone, acc, replica)
        ctx.close()
        sessions = [open_session(browser, url) for _ in range(n)]
        pages = [p for _, p, _ in sessions]
        since, cpu0 = time.time(), server_cpu(pids) if pids else None
        spread = wait_accuracies(pages, press_train_together(pages))
        r["class_jobs"] = wait_records(job_log, since, n)
        r["class_server_cpu"] = server_cpu(pids) - cpu0 if pids else None
        r["load_after"] = load_average(1)
        r["class"] = [(t, a, rep) for (t, a), (_, _, rep) in zip(spread, sessions, strict=True)]
        r["exceptions"] = sum(len(e.exceptions_on_page(p)) for p in pages)
        r["mem_after"] = memory(pids) if pids else None
        # 2. the CNN: the class trains one epoch each while another session browses and uploads
        if not cnn:
            return r
        r["idle_visit"] = visit_browse_and_upload(browser, url, photo)
        for p in pages:
            choose_cnn_for_one_epoch(p)
        clicked = press_train(pages, CNN_DONE)
        r["busy_visit"] = visit_browse_and_upload(browser, url, photo)
        cnn = wait_accuracies(pages, clicked)
        r["cnn"] = cnn
        r["exceptions"] += sum(len(e.exceptions_on_page(p)) for p in pages)
        for ctx, _, _ in sessions:
            ctx.close()
    finally:
        for s in samplers:
            s.__exit__(None, None, None)
        r["mem_peak"] = (sum(s.peak_rss for s in samplers), sum(s.peak_pss for s in samplers)) if pids else None
    return r


def softmax_row(r: dict) -> str:
    alone, acc, _ = r["alone"]
    times = [t for t, _, _ in r["class"]]
    accs = sorted({a for _, a, _ in r["class"]})
    reps = ", ".join(f"{k}×{[x for _, _, x in r['class']].count(k)}" for k in sorted({x for _, _, x in r["class"]}))
    return (
        f"| {r['label']} | {alone:.1f} s ({acc:.1f}%) | {min(times):.1f}–{max(times):.1f} s "
        f"(median {statistics.median(times):.1f}) | **{max(times) / alone:.1f}×** | "
        f"{', '.join(f'{a:.1f}' for a in accs)}% | {reps} | {r['exceptions']} |"
    )


def server_side(job: dict) -> float:
    """What the server owes a session: its job's wait in the queue plus its training in a worker."""
    return job["queued_s"] + job["trained_s"]


def server_lines(r: dict, cli: dict | None) -> list[str]:
    """Per session: the server's record of its job beside the browser's time; the class's server-side figures."""
    jobs, alone_jobs = r.get("class_jobs") or [], r.get("alone_jobs") or []
    if not jobs or not alone_jobs:
        return [f"{r['label']}: no job records (a deployment this bench did not start, or none written).", ""]
    (alone,) = alone_jobs[:1]
    browser = sorted(t for t, _, _ in r["class"])
    lines = [
        f"**{r['label']}** (load average before → after: {r['load_before']} → {r['load_after']}). Sessions in the "
        "order their jobs ended, paired with the browsers' times in the same order (the log does not name the "
        "browser).",
        "",
        "| session | queued | trained in its worker | server-side (queue + training) | worker CPU "
        "| live-panel reruns (their CPU) | browser: click to result |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [("alone", alone, r["alone"][0])] + [
        (str(i + 1), j, b) for i, (j, b) in enumerate(zip(jobs, browser, strict=False))
    ]
    for name, j, b in rows:
        lines.append(
            f"| {name} | {j['queued_s']:.2f} s | {j['trained_s']:.2f} s | {server_side(j):.2f} s "
            f"| {j['worker_cpu_s']:.2f} s | {j['reruns']} ({j['rerun_cpu_s']:.3f} s) | {b:.1f} s |"
        )
    slowest = max(server_side(j) for j in jobs) / server_side(alone)
    live = sum(j["live_s"] for j in jobs)
    cores = os.cpu_count() or 1
    lines += [
        "",
        f"- Server-side slowest ÷ alone: **{slowest:.1f}×** (target ≤ {SERVER_TARGET:g}×, the cores allow "
        f"{len(jobs) / cores:g}×: {'met' if slowest <= SERVER_TARGET else 'NOT met'}); the browsers' slowest ÷ alone "
        f"{max(browser) / r['alone'][0]:.1f}×.",
    ]
    if r.get("class_server_cpu") is not None:
        per = r["class_server_cpu"] / live
        lines.append(
            f"- Server process CPU (its own, without the workers) while the class trained: "
            f"{r['class_server_cpu']:.2f} s over {live:.1f} live session-seconds: **{per:.3f} CPU-s per live "
            f"session-second** (one server core keeps ~{1 / per:.0f} sessions live); of it the live panel's "
            f"reruns {sum(j['rerun_cpu_s'] for j in jobs):.2f} s ({sum(j['reruns'] for j in jobs)} reruns)."
        )
    if cli is not None and r.get("alone_server_cpu") is not None:
        app = r["alone_server_cpu"] + alone["worker_cpu_s"]
        ratio = app / cli["fit_cpu_s"]
        lines.append(
            f"- The whole cost of one run (the session alone): server {r['alone_server_cpu']:.2f} + worker "
            f"{alone['worker_cpu_s']:.2f} = {app:.2f} CPU-s, against the CLI's training {cli['fit_cpu_s']:.2f} "
            f"CPU-s (same settings, the thread policy; {cli['fit_wall_s']:.2f} s wall): **{ratio:.2f}×** "
            f"(target ≤ {COST_TARGET:g}×: {'met' if ratio <= COST_TARGET else 'NOT met'}). The whole "
            f"`python -m fmnist_lib train` process (importing torch, loading the data, writing the checkpoint): "
            f"{cli['process_cpu_s']:.2f} CPU-s."
        )
    return lines + [""]


def cnn_row(r: dict) -> str:
    times = [t for t, _ in r["cnn"]]
    accs = [a for _, a in r["cnn"]]
    (ib, iu), (bb, bu) = r["idle_visit"], r["busy_visit"]
    return (
        f"| {r['label']} | {min(times):.0f}–{max(times):.0f} s ({min(accs):.1f}–{max(accs):.1f}%) "
        f"| {ib:.1f} s → {bb:.1f} s | {iu:.1f} s → {bu:.1f} s |"
    )


def cnn_lines(results: list[dict], n: int) -> list[str]:
    return [
        f"The small CNN, one epoch each in {n} sessions at once; meanwhile a further session opens Browse (until its "
        "first image is drawn) and uploads a photo on Upload (until its Top-3): idle server → during the CNNs.\n",
        f"| deployment | {n} CNN epochs: each one's time (accuracy) | Browse drawn | upload to Top-3 |",
        "|---|---|---|---|",
        *(cnn_row(r) for r in results if "cnn" in r),
        "",
    ]


def memory_row(r: dict) -> str:
    if r["mem_before"] is None:
        return f"| {r['label']} | — | — | — | — |"
    (b, bp, bo), (a, ap, ao), (p, pp) = r["mem_before"], r["mem_after"], r["mem_peak"]
    return (
        f"| {r['label']} | {b / MB:.0f} MB ({bp / MB:.0f}) | {a / MB:.0f} MB ({ap / MB:.0f}) "
        f"| {p / MB:.0f} MB ({pp / MB:.0f}) | {bo / MB:.0f} → {ao / MB:.0f} MB |"
    )


def nice_chromium(folder: Path, niceness: int) -> str | None:
    """A wrapper that starts Chromium at `niceness` (None at 0: Chromium as found); see lower_browsers."""
    if not niceness:
        return None
    wrapper = folder / "chromium-nice"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {niceness} {e.find_chromium()} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def lower_browsers(niceness: int) -> int:
    """Give this process's Chromium descendants' scheduling groups `niceness`; how many groups were set.

    On this one machine the class's browsers share the server's cores; at niceness 19 they get only the CPU the
    server and its workers leave, which is how a class whose browsers run on their own laptops loads a server.
    A process's own niceness is not enough: with the kernel's autogroups (sched_autogroup_enabled) the CPU is
    shared between sessions first, and Chromium and its zygotes each start a session of their own, so the
    niceness that counts is each autogroup's (/proc/PID/autogroup).
    """
    import psutil

    groups = 0
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" in proc.name():
                with open(f"/proc/{proc.pid}/autogroup", "w") as f:
                    f.write(str(niceness))
                groups += 1
        except (OSError, psutil.Error):
            pass  # gone meanwhile, or no autogroups on this kernel
    return groups


def keep_lowering(niceness: int, every: float = 0.5) -> None:
    while True:
        lower_browsers(niceness)
        time.sleep(every)


def report(results: list[dict], n: int, load: str, command: str, cli: dict | None = None) -> list[str]:
    workers = os.environ.get("FMNIST_WORKERS", "one per core")
    niced = "--browser-nice" in command
    return [
        f"\n## {n} sessions at once, {time.strftime('%Y-%m-%d %H:%M')} (`{command}`)\n",
        f"{platform.node()}, {os.cpu_count()} cores, load average before the run {load}; training workers per "
        f"server: {workers}. Times measured in Chromium, which shares the cores"
        + (" at a lower priority (niced: the server and its workers go first).\n" if niced else " as an equal.\n"),
        f'Softmax defaults (10 epochs, seed 0): time from each session\'s click on Train to its "Test accuracy" '
        f"message. Target: the slowest within {TARGET:g}× the session alone.\n",
        f"| deployment | one session alone | {n} at once: each one's time | slowest ÷ alone | accuracies "
        "| sessions per replica | exceptions |",
        "|---|---|---|---|---|---|---|",
        *(softmax_row(r) for r in results),
        "",
        "Server side: where each session's time went in the server, and its CPU.\n",
        *(line for r in results for line in server_lines(r, cli)),
        *(cnn_lines(results, n) if any("cnn" in r for r in results) else []),
        "Memory of the server process trees (server, forkserver and training workers), RSS summed (PSS summed in "
        "brackets: shared pages counted once):\n",
        "| deployment | before | after the softmax class | peak | the server process alone, before → after |",
        "|---|---|---|---|---|",
        *(memory_row(r) for r in results),
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_classroom", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=6)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--skip-replicas", action="store_true", help="measure the one server only")
    ap.add_argument("--skip-cnn", action="store_true", help="the softmax class only")
    ap.add_argument("--url", default=None, help="measure this running deployment only")
    ap.add_argument(
        "--browser-nice",
        type=int,
        default=0,
        help="run Chromium at this niceness (e.g. 19): the server and its workers get the cores first, as in a "
        "class whose browsers run on their own laptops (default 0: Chromium competes as an equal)",
    )
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "classroom.md")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    photo, _ = garment_photo(0)
    load = load_average(1)
    cli = None if args.url else cli_cost()  # the CLI's CPU for the same run, first: nothing measured is lost to it
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    job_log = tmp / "jobs.jsonl"
    with sync_playwright() as pw:
        browser = e.launch_chromium(pw, nice_chromium(tmp, args.browser_nice))
        if args.browser_nice:  # again every half second: each new page's renderer may start a group of its own
            threading.Thread(target=keep_lowering, args=(args.browser_nice,), daemon=True).start()
        try:
            if args.url:
                results.append(measure(browser, args.url, args.url, [], args.sessions, photo, not args.skip_cnn))
            else:
                env = {"FMNIST_JOB_LOG": str(job_log)}
                with e.StreamlitServer(log_path=e.ARTIFACTS / "bench-classroom-single.log", env=env) as srv:
                    srv.wait_healthy(timeout=120)
                    time.sleep(8)  # the warm-up: the data, the workers, the default model
                    results.append(
                        measure(
                            browser, "one server", srv.url, [srv.pid], args.sessions, photo, not args.skip_cnn, job_log
                        )
                    )
                if not args.skip_replicas:
                    with Deployment(replicas=args.replicas, env={"FMNIST_JOB_LOG": str(job_log)}) as dep:
                        time.sleep(8)
                        pids = [c.proc.pid for c in dep.replicas]
                        label = f"{args.replicas} replicas behind nginx"
                        results.append(
                            measure(browser, label, dep.url, pids, args.sessions, photo, not args.skip_cnn, job_log)
                        )
        finally:
            browser.close()
    command = "python -m bench.bench_classroom " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = report(results, args.sessions, load, command.strip(), cli)
    append_results(args.out, lines, "The classroom benchmark: many sessions pressing Train at once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
