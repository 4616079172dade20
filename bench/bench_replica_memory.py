"""What one replica needs: its memory idle, after a softmax run and during/after a CNN run.

    python -m bench.bench_replica_memory

Starts one `streamlit run streamlit_app.py` (tests/support/server.StreamlitServer), drives one
Chromium session (softmax defaults, then the small CNN), and samples the server's process tree
every 0.2 s with psutil: RSS summed over the processes (counts shared pages - torch's libraries,
the memory-mapped data set - once per process) and PSS summed (shared pages split between all the
processes on the machine that map them, other servers included: lower than what a pod alone would
be charged, so size a pod from RSS). The Kubernetes requests/limits in deploy/k8s/ follow these figures. Notes go to bench/results/replicas.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from bench.common import MB, TreeSampler, tree_memory
from tests.support import server as e
from tests.support.images import garment_photo

REPO = Path(__file__).resolve().parents[1]
ACCURACY = re.compile(r"Test accuracy\s*:?\s*(\d{1,3}\.\d)\s*%")


def train(page, model_title: str | None, epochs_key: str | None, timeout: float) -> float:
    """Press Train (after choosing a model and setting Epochs with a key); wait for the accuracy."""
    e.goto_page(page, "Train")
    if model_title:
        page.locator('[data-testid="stRadio"]').filter(has_text="Model").get_by_text(model_title).click()
        e.wait_idle(page)
    if epochs_key:
        slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epochs").locator('input[type="range"]')
        slider.focus()
        page.keyboard.press(epochs_key)
        e.wait_idle(page)
    done = page.locator(e.SUCCESS).filter(has_text=ACCURACY)
    before = set(done.all_inner_texts())  # the last run's message, which this run's replaces
    e.click_button(page, "Train")
    deadline = time.monotonic() + timeout
    while not (new := [t for t in done.all_inner_texts() if t not in before]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no new 'Test accuracy' message within {timeout:.0f} s")
        page.wait_for_timeout(250)
    text = new[0]
    return float(ACCURACY.search(text).group(1))


def append_notes(out: Path, lines: list[str]) -> None:
    """Add a run's section to the notes file (bench/results/replicas.md) and print it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        out.write_text("# Replicas: memory and the classroom benchmark through nginx\n")
    with out.open("a") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_replica_memory", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "replicas.md")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    rows: list[tuple[str, int, int, int]] = []

    def note(stage: str, pid: int) -> None:
        rss, pss, n = tree_memory(pid)
        rows.append((stage, rss, pss, n))
        print(f"{stage}: RSS {rss / MB:.0f} MB, PSS {pss / MB:.0f} MB, {n} processes", flush=True)

    with e.StreamlitServer(log_path=e.ARTIFACTS / "bench-replica-memory.log") as srv, sync_playwright() as pw:
        srv.wait_healthy(timeout=120)
        time.sleep(5)  # the start-up hook loads the data and the default model in the background
        note("started, no session yet", srv.pid)
        browser = e.launch_chromium(pw)
        try:
            page = e.new_context(browser).new_page()
            e.open_app(page, srv.url, timeout=120)
            note("one session on Home", srv.pid)
            with TreeSampler(srv.pid) as s:
                acc = train(page, None, None, timeout=300)
            note(f"after softmax defaults ({acc:.1f}%)", srv.pid)
            rows.append(("peak during softmax", s.peak_rss, s.peak_pss, 0))
            with TreeSampler(srv.pid) as s:
                acc = train(page, "Small CNN", "Home", timeout=600)  # Home: 1 epoch, the memory peak of 8
            note(f"after the CNN, 1 epoch ({acc:.1f}%)", srv.pid)
            rows.append(("peak during the CNN", s.peak_rss, s.peak_pss, 0))
            e.goto_page(page, "Browse")
            e.goto_page(page, "Upload")
            photo, _ = garment_photo(index=1)
            e.upload(page, "pullover.jpg", photo, "image/jpeg")
            note("after Browse and an upload", srv.pid)
        finally:
            browser.close()

    stamp = time.strftime("%Y-%m-%d %H:%M")
    lines = [
        f"\n## One replica's memory, {stamp} (`python -m bench.bench_replica_memory`)\n",
        "| stage | RSS summed | PSS summed | processes |",
        "|---|---|---|---|",
        *(f"| {st} | {r / MB:.0f} MB | {p / MB:.0f} MB | {n or ''} |" for st, r, p, n in rows),
        "",
    ]
    append_notes(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
