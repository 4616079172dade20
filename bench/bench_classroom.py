"""A class pressing Train at once: one server, then K replicas behind nginx, side by side in one run.

    python -m bench.bench_classroom [--sessions 6] [--replicas 2] [--skip-replicas] [--url URL]

For each deployment (one `streamlit run`, then deploy.run_replicas.Deployment with K replicas):

1. softmax: one session alone presses Train (softmax defaults), then N sessions (separate Chromium
   contexts) press it within about a second of each other; each one's time from its click until the
   page shows "Test accuracy" is measured in the browser (a MutationObserver), with its replica and
   accuracy. Target: the slowest within 4× the session alone, every accuracy the same.
2. CNN: N sessions train the small CNN for one epoch each; while they do, a further session opens
   Browse and then Upload (a photo): its time to draw each, against the same visit to the idle server.

The servers' memory (each process tree: server and training workers, RSS and PSS summed) before,
after, and at its peak. `--url` measures an already running deployment (without memory). The notes
go to bench/results/classroom.md; the README's table takes its figures from there.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

from bench.bench_replica_memory import Sampler, tree_memory
from deploy.run_replicas import Deployment
from tests.support import server as e
from tests.support.images import garment_photo

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
ACCURACY = re.compile(r"Test accuracy\s*:?\s*(\d{1,3}\.\d)\s*%")
TARGET = 4.0  # the slowest of the class within this many times the session alone

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


def measure(browser, label: str, url: str, pids: list[int], n: int, photo: bytes, cnn: bool = True) -> dict:
    r = {"label": label, "n": n, "mem_before": memory(pids) if pids else None}
    samplers = [Sampler(pid) for pid in pids]
    for s in samplers:
        s.__enter__()
    try:
        # 1. softmax: one alone, then the class at once
        ctx, page, replica = open_session(browser, url)
        ((alone, acc),) = wait_accuracies([page], press_train([page]))
        r["alone"] = (alone, acc, replica)
        ctx.close()
        sessions = [open_session(browser, url) for _ in range(n)]
        pages = [p for _, p, _ in sessions]
        spread = wait_accuracies(pages, press_train(pages))
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


def cnn_row(r: dict) -> str:
    times = [t for t, _ in r["cnn"]]
    accs = [a for _, a in r["cnn"]]
    (ib, iu), (bb, bu) = r["idle_visit"], r["busy_visit"]
    return (
        f"| {r['label']} | {min(times):.0f}–{max(times):.0f} s ({min(accs):.1f}–{max(accs):.1f}%) "
        f"| {ib:.1f} s → {bb:.1f} s | {iu:.1f} s → {bu:.1f} s |"
    )


def memory_row(r: dict) -> str:
    if r["mem_before"] is None:
        return f"| {r['label']} | — | — | — | — |"
    (b, bp, bo), (a, ap, ao), (p, pp) = r["mem_before"], r["mem_after"], r["mem_peak"]
    return (
        f"| {r['label']} | {b / MB:.0f} MB ({bp / MB:.0f}) | {a / MB:.0f} MB ({ap / MB:.0f}) "
        f"| {p / MB:.0f} MB ({pp / MB:.0f}) | {bo / MB:.0f} → {ao / MB:.0f} MB |"
    )


def report(results: list[dict], n: int, load: str, command: str) -> list[str]:
    workers = os.environ.get("FMNIST_WORKERS", "one per core")
    return [
        f"\n## {n} sessions at once, {time.strftime('%Y-%m-%d %H:%M')} (`{command}`)\n",
        f"{platform.node()}, {os.cpu_count()} cores, load average before the run {load}; training workers per "
        f"server: {workers}. Times measured in Chromium, which shares the cores.\n",
        f'Softmax defaults (10 epochs, seed 0): time from each session\'s click on Train to its "Test accuracy" '
        f"message. Target: the slowest within {TARGET:g}× the session alone.\n",
        f"| deployment | one session alone | {n} at once: each one's time | slowest ÷ alone | accuracies "
        "| sessions per replica | exceptions |",
        "|---|---|---|---|---|---|---|",
        *(softmax_row(r) for r in results),
        "",
        f"The small CNN, one epoch each in {n} sessions at once; meanwhile a further session opens Browse (until its "
        "first image is drawn) and uploads a photo on Upload (until its Top-3): idle server → during the CNNs.\n",
        f"| deployment | {n} CNN epochs: each one's time (accuracy) | Browse drawn | upload to Top-3 |",
        "|---|---|---|---|",
        *(cnn_row(r) for r in results if "cnn" in r),
        "",
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
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "classroom.md")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    photo, _ = garment_photo(0)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    results = []
    with sync_playwright() as pw:
        browser = e.launch_chromium(pw)
        try:
            if args.url:
                results.append(measure(browser, args.url, args.url, [], args.sessions, photo, not args.skip_cnn))
            else:
                with e.StreamlitServer(log_path=e.ARTIFACTS / "bench-classroom-single.log") as srv:
                    srv.wait_healthy(timeout=120)
                    time.sleep(8)  # the warm-up: the data, the workers, the default model
                    results.append(
                        measure(browser, "one server", srv.url, [srv.pid], args.sessions, photo, not args.skip_cnn)
                    )
                if not args.skip_replicas:
                    with Deployment(replicas=args.replicas) as dep:
                        time.sleep(8)
                        pids = [c.proc.pid for c in dep.replicas]
                        label = f"{args.replicas} replicas behind nginx"
                        results.append(measure(browser, label, dep.url, pids, args.sessions, photo, not args.skip_cnn))
        finally:
            browser.close()
    command = "python -m bench.bench_classroom " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = report(results, args.sessions, load, command.strip())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.out.exists():
        args.out.write_text("# The classroom benchmark: many sessions pressing Train at once\n")
    with args.out.open("a") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
