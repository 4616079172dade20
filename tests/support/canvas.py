"""Drawing on Upload's canvas in Chromium (tests/test_e2e_canvas.py, bench/canvas_latency.py).

The canvas is streamlit-drawable-canvas, a Streamlit v2 component: it is drawn in the page itself (no
iframe), as Fabric.js's two <canvas> elements; the upper one takes the mouse and touch events.
"""

from __future__ import annotations

import time

from tests.support.server import SUCCESS, arm_run_watch, wait_run_done

CANVAS = "canvas.upper-canvas"
DRAW_TOGGLE = "Draw a garment instead"
DARK_TOGGLE = "White on black"
WHOLE_PAGE_TOGGLE = "The whole page for the drawing"
# Shapes as polylines in canvas fractions (0-1), drawn as one stroke each.
T_SHIRT = [(0.35, 0.15), (0.65, 0.15), (0.9, 0.35), (0.78, 0.45), (0.7, 0.38), (0.7, 0.9), (0.3, 0.9), (0.3, 0.38),
           (0.22, 0.45), (0.1, 0.35), (0.35, 0.15)]  # fmt: skip
TROUSERS = [(0.3, 0.08), (0.7, 0.08), (0.78, 0.92), (0.58, 0.92), (0.5, 0.35), (0.42, 0.92), (0.22, 0.92), (0.3, 0.08)]


def open_canvas(page, timeout: float = 60.0) -> None:
    """Switch Upload to drawing (the page must be shown) and wait for the canvas."""
    arm_run_watch(page)
    page.get_by_text(DRAW_TOGGLE).click()
    wait_run_done(page, timeout=timeout)
    page.locator(CANVAS).first.wait_for(timeout=timeout * 1000)


def draw(page, points: list[tuple[float, float]], steps: int = 6) -> float:
    """Draw one stroke through points (fractions of the canvas) with mouse events; return the time of the
    mouse-up (time.perf_counter())."""
    box = page.locator(CANVAS).first.bounding_box()

    def at(p):
        return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]

    arm_run_watch(page)
    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(p), steps=steps)
    t = time.perf_counter()
    page.mouse.up()
    return t


def wait_top3(page, timeout: float = 60.0) -> str:
    """Wait for the run the last stroke caused to end with a Top-3; return the "Predicted: ..." line."""
    wait_run_done(page, timeout=timeout, quiet=0.5)
    page.wait_for_selector(SUCCESS, timeout=timeout * 1000)
    return page.locator(SUCCESS).first.inner_text()
