"""Screenshots of every page for the README, on a desktop (1400x1000) and a phone (390x844).

    .venv/bin/python -m tools.screenshots            # writes docs/screenshots/{page}.png and {page}-phone.png
    .venv/bin/python -m tools.screenshots --out artifacts/shots --only phone

One browser session per screen size, like a student's: Home; Train three short runs that differ
by seed and optimizer (so the comparison, the run names and the legend are on the page); Browse;
Upload a generated photo of a sneaker pointing right, leaning 30 degrees; Inside softmax (which offers that
photo); Lesson. Full-page shots (tests/support/server.screenshot).
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

from PIL import Image

from tests.support import server as e
from tests.support.images import garment_photo

REPO = Path(__file__).resolve().parents[1]

SCREENS = {"desktop": (1400, 1000, ""), "phone": (390, 844, "-phone")}
EPOCHS = 3  # short runs: the shots are about the layout, not the accuracy


def leaning_sneaker() -> bytes:
    """A Fashion-MNIST sneaker as a photo, mirrored (pointing right) and tipped 30 degrees toe up, as emoji
    shoes lean: the Upload page's sole and mirror steps at work."""
    photo, _ = garment_photo(index=9, fmt="PNG")  # test image 9: a sneaker
    img = Image.open(io.BytesIO(photo)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).convert("RGB")
    img = img.rotate(30, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=img.getpixel((0, 0)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def set_epochs(page, n: int) -> None:
    """The Epochs slider to n, with the keyboard (Home = 1, then n-1 steps right)."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epochs").locator('input[type="range"]')
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(n - 1):
        page.keyboard.press("ArrowRight")
    e.wait_idle(page)


def set_seed(page, seed: int) -> None:
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text="Seed").locator("input")
    box.fill(str(seed))
    box.press("Enter")
    e.wait_idle(page)


def train(page, n_done: int, timeout: float = 300.0) -> None:
    """Press Train and wait for this run's final message (the n_done-th run of the session)."""
    e.arm_run_watch(page)
    e.click_button(page, "Train")
    page.get_by_role("button", name="Stop").first.wait_for(state="visible")
    # The session's runs are a static table (lab_ui/train_page/session_runs.py): one body row per run.
    page.wait_for_function(
        "n => !document.querySelector('[data-testid=\"stProgress\"]')"
        ' && document.querySelectorAll(\'[data-testid="stMain"] [data-testid="stTable"] tbody tr\').length >= n',
        arg=n_done,
        timeout=timeout * 1000,
    )
    e.wait_idle(page, timeout=timeout)
    page.wait_for_timeout(500)


def shoot(browser, srv, screen: str, out: Path) -> list[Path]:
    width, height, suffix = SCREENS[screen]
    context = e.new_context(browser, width=width, height=height)
    context.set_default_timeout(120_000)
    page = context.new_page()
    saved = []
    try:
        e.open_app(page, srv.url)
        page.get_by_text("Active model:").first.wait_for(state="visible")
        saved.append(e.screenshot(page, out / f"home{suffix}.png"))
        e.goto_page(page, "Train")
        set_epochs(page, EPOCHS)
        train(page, 1)
        set_seed(page, 1)
        train(page, 2)
        e.choose_option(page, "Optimizer", "Adam")
        train(page, 3)
        saved.append(e.screenshot(page, out / f"train{suffix}.png"))
        e.goto_page(page, "Browse")
        page.locator('[data-testid="stMain"] [data-testid="stImage"] img').first.wait_for(state="visible")
        page.wait_for_timeout(800)
        saved.append(e.screenshot(page, out / f"browse{suffix}.png"))
        e.goto_page(page, "Upload")
        e.upload(page, "sneaker.jpg", leaning_sneaker(), "image/jpeg")
        page.locator('[data-testid="stMain"]').get_by_text("Predicted:").first.wait_for(state="visible")
        page.wait_for_timeout(800)
        saved.append(e.screenshot(page, out / f"upload{suffix}.png"))
        for name, title in (("softmax", "Inside softmax"), ("lesson", "Lesson")):
            e.goto_page(page, title)
            page.wait_for_timeout(800)
            saved.append(e.screenshot(page, out / f"{name}{suffix}.png"))
    finally:
        context.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    ap.add_argument("--only", choices=sorted(SCREENS), help="one screen size only")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with e.StreamlitServer(log_path=e.ARTIFACTS / "screenshots-streamlit.log") as srv:
        srv.wait_healthy(timeout=120)
        with sync_playwright() as pw:
            browser = e.launch_chromium(pw)
            try:
                for screen in [args.only] if args.only else list(SCREENS):
                    for p in shoot(browser, srv, screen, args.out):
                        print(os.path.relpath(p, REPO))
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
