"""End-to-end: draw a garment on Upload's canvas with mouse events in Chromium and get its Top-3.

A T-shirt outline drawn black on white is filled by the pipeline's "Filled outline" step and read as a
T-shirt; trousers drawn white on black are read too; on a 390 px phone the canvas fits the screen. A stroke
reruns the canvas and its quick read alone; "The whole page for the drawing" makes the rest follow too.
Run alone: .venv/bin/python -m pytest -m browser tests/test_e2e_canvas.py
"""

from __future__ import annotations

import pytest

from tests.support import server as web
from tests.support.canvas import CANVAS, DARK_TOGGLE, T_SHIRT, TROUSERS, WHOLE_PAGE_TOGGLE, draw, open_canvas, wait_top3

pytestmark = web.browser_marks()


@pytest.fixture
def page(browser, server, request):
    width, height = getattr(request, "param", (1280, 900))
    context = web.new_context(browser, width, height)
    context.set_default_timeout(60_000)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    web.open_app(p, server.url)
    web.goto_page(p, "Upload")
    yield p
    assert not errors, f"JavaScript errors: {errors}"
    assert not web.exceptions_on_page(p)
    context.close()


def test_a_drawn_outline_is_filled_and_read(page):
    open_canvas(page)
    draw(page, T_SHIRT)
    predicted = wait_top3(page)
    assert predicted.startswith("Predicted: T-shirt/top"), predicted
    assert page.get_by_text("Filled outline", exact=True).count() == 1  # its own step, shown
    # The Top-3 as three bars (plain bars under the canvas, lighter than a chart redrawn on every stroke).
    bars = page.locator('[data-testid="stMain"] [data-testid="stProgress"]')
    bars.nth(2).wait_for(state="attached")
    assert bars.count() == 3 and bars.first.inner_text().startswith("T-shirt/top")


def _switch(page, label: str) -> None:
    """Click a toggle on the page and wait for the run it causes."""
    web.arm_run_watch(page)
    page.get_by_text(label).click()
    web.wait_run_done(page)


def test_white_on_black_drawing(page):
    open_canvas(page)
    _switch(page, DARK_TOGGLE)
    draw(page, TROUSERS)
    assert wait_top3(page).startswith("Predicted: Trouser")


@pytest.mark.parametrize("page", [(390, 844)], indirect=True)
def test_the_canvas_fits_a_phone(page):
    open_canvas(page)
    box = page.locator(CANVAS).first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    draw(page, T_SHIRT)
    assert wait_top3(page).startswith("Predicted: ")


EVIDENCE = "3. Why: the evidence for each of the Top-3"


def test_a_stroke_draws_the_quick_read_not_the_whole_page(page):
    open_canvas(page)
    draw(page, T_SHIRT)
    assert wait_top3(page).startswith("Predicted: T-shirt/top")
    page.get_by_text("The model's input (28×28)").wait_for()  # an image's caption shows once it has loaded
    assert page.get_by_text(EVIDENCE).count() == 0  # the slow sections wait for the switch


def test_the_whole_page_follows_each_stroke_when_asked(page):
    open_canvas(page)
    _switch(page, WHOLE_PAGE_TOGGLE)
    draw(page, T_SHIRT)
    assert wait_top3(page).startswith("Predicted: T-shirt/top")
    page.get_by_text(EVIDENCE).wait_for()
    _switch(page, DARK_TOGGLE)  # a new, empty canvas: nothing below may show the old drawing
    assert page.get_by_text(EVIDENCE).count() == 0
    draw(page, TROUSERS)
    assert wait_top3(page).startswith("Predicted: Trouser")
    page.get_by_text(EVIDENCE).wait_for()
    # the evidence is the new drawing's (once per view: a balanced drawing is read both ways)
    assert page.get_by_text("w·x for Trouser").count() >= 1
