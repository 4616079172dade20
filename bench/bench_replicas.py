"""A class pressing Train at once: one server against 2 replicas behind nginx, side by side in one run.

    python -m bench.bench_replicas [--sessions 6] [--replicas 2] [--url URL]

For each deployment (one `streamlit run`, then deploy.run_replicas.Deployment with K replicas):
one session alone presses Train (softmax defaults), then N sessions (separate Chromium contexts)
press it within about a second of each other; each one's time from its click until the page
shows "Test accuracy" is measured in the browser (a MutationObserver), with the replica it was
on and the accuracy it reached. The servers' RSS (each process tree summed) before and after.
`--url` measures an already running deployment instead. Notes go to bench/results/replicas.md.
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

from bench.bench_replica_memory import append_notes, tree_memory
from deploy.run_replicas import Deployment
from tests.support import server as e

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
ACCURACY = re.compile(r"Test accuracy\s*:?\s*(\d{1,3}\.\d)\s*%")

# In the page: the wall-clock time (ms) at which a new "Test accuracy" message appears.
_WATCH = """() => {
    window.__done = null;
    const seen = new Set([...document.querySelectorAll('[data-testid="stAlertContentSuccess"]')].map(n => n.innerText));
    const check = () => {
        for (const n of document.querySelectorAll('[data-testid="stAlertContentSuccess"]')) {
            if (/Test accuracy/.test(n.innerText) && !seen.has(n.innerText) && window.__done === null) {
                window.__done = {t: Date.now(), text: n.innerText};
            }
        }
    };
    new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def open_session(browser, url: str):
    ctx = e.new_context(browser)
    ctx.set_default_timeout(300_000)
    page = ctx.new_page()
    e.open_app(page, url, timeout=300)
    e.goto_page(page, "Train", timeout=300)
    replica = {c["name"]: c["value"] for c in ctx.cookies()}.get("fmnist_replica", "-")
    return ctx, page, replica


def press_train_together(pages: list, timeout: float = 600.0) -> list[tuple[float, float]]:
    """Click Train on every page in turn; return each page's (seconds to its accuracy, accuracy)."""
    clicked = []
    for page in pages:
        page.evaluate(_WATCH)
    for page in pages:
        clicked.append(time.time())
        e.click_button(page, "Train")
    out = []
    for page, t0 in zip(pages, clicked, strict=True):
        page.wait_for_function("() => window.__done !== null", timeout=timeout * 1000)
        done = page.evaluate("window.__done")
        out.append((done["t"] / 1000 - t0, float(ACCURACY.search(done["text"]).group(1))))
    return out


def rss(pids: list[int]) -> int:
    return sum(tree_memory(p)[0] for p in pids)


def measure(browser, label: str, url: str, pids: list[int], n: int) -> dict:
    r = {"label": label, "rss_before": rss(pids) if pids else None}
    ctx, page, replica = open_session(browser, url)
    ((alone, acc),) = press_train_together([page])
    r["alone"] = (alone, acc, replica)
    ctx.close()
    sessions = [open_session(browser, url) for _ in range(n)]
    spread = press_train_together([p for _, p, _ in sessions])
    r["class"] = [(t, a, rep) for (t, a), (_, _, rep) in zip(spread, sessions, strict=True)]
    r["exceptions"] = sum(len(e.exceptions_on_page(p)) for _, p, _ in sessions)
    r["rss_after"] = rss(pids) if pids else None
    for ctx, _, _ in sessions:
        ctx.close()
    print(summary_row(r, n), flush=True)
    return r


def summary_row(r: dict, n: int) -> str:
    alone, acc, _ = r["alone"]
    times = [t for t, _, _ in r["class"]]
    accs = sorted({a for _, a, _ in r["class"]})
    reps = ", ".join(f"{k}×{[x for _, _, x in r['class']].count(k)}" for k in sorted({x for _, _, x in r["class"]}))
    mem = f"{r['rss_before'] / MB:.0f} → {r['rss_after'] / MB:.0f} MB" if r["rss_before"] is not None else "—"
    return (
        f"| {r['label']} | {alone:.1f} s ({acc:.1f}%) | {min(times):.1f}–{max(times):.1f} s "
        f"(median {statistics.median(times):.1f}) | **{max(times) / alone:.1f}×** | "
        f"{', '.join(f'{a:.1f}' for a in accs)}% | {reps} | {r['exceptions']} | {mem} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_replicas", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=6)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--url", default=None, help="measure this running deployment only")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "replicas.md")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    results = []
    with sync_playwright() as pw:
        browser = e.launch_chromium(pw)
        try:
            if args.url:
                results.append(measure(browser, args.url, args.url, [], args.sessions))
            else:
                with e.StreamlitServer(log_path=e.ARTIFACTS / "bench-replicas-single.log") as srv:
                    srv.wait_healthy(timeout=120)
                    time.sleep(5)  # the warm-up loads the data and the default model
                    results.append(measure(browser, "one server", srv.url, [srv.pid], args.sessions))
                with Deployment(replicas=args.replicas) as dep:
                    time.sleep(5)
                    pids = [c.proc.pid for c in dep.replicas]
                    label = f"{args.replicas} replicas behind nginx"
                    results.append(measure(browser, label, dep.url, pids, args.sessions))
        finally:
            browser.close()

    n = args.sessions
    lines = [
        f"\n## {n} sessions pressing Train at once, {time.strftime('%Y-%m-%d %H:%M')} "
        f"(`python -m bench.bench_replicas --sessions {n}`)\n",
        f"{platform.node()}, {os.cpu_count()} cores, load average before the run {load}. "
        "Softmax defaults (10 epochs, seed 0); time from each session's click on Train to its "
        '"Test accuracy" message, measured in Chromium (which shares the cores).\n',
        f"| deployment | one session alone | {n} at once: each one's time | slowest ÷ alone | accuracies "
        "| sessions per replica | exceptions | servers' RSS before → after |",
        "|---|---|---|---|---|---|---|---|",
        *(summary_row(r, n) for r in results),
        "",
    ]
    append_notes(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
