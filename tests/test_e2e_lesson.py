"""End-to-end: the Lesson page in Debian's Chromium. A learner follows the "make it diverge" link, presses
Train, comes back to the Lesson and sees that exercise done; the report downloads; the page fits a 390 px
phone. Screenshots: artifacts/screenshots/lesson*.png.

The link opens Train with lr=10 and one epoch through the URL binding (lab_ui/state.open_url); should the
Train page stop reading its URL, this test fails at that step and says so.
Run alone: .venv/bin/python -m pytest -m browser tests/test_e2e_lesson.py
"""

from __future__ import annotations

import re

import pytest

from tests.support import server as web
from tests.test_e2e_phone import PHONE, assert_fits_the_width

pytestmark = web.browser_marks()

MAIN = '[data-testid="stMain"]'
EXERCISE_1 = "Exercise 1: Make training diverge"
TRAIN_TIMEOUT = 120_000  # ms: one epoch at lr 10 stops within seconds, on a loaded machine within a minute


@pytest.fixture(scope="module")
def page(browser, server):
    context = web.new_context(browser, width=1280)
    context.set_default_timeout(60_000)
    try:
        tab = context.new_page()
        web.open_app(tab, server.url)
        yield tab
    finally:
        context.close()


def test_the_lesson_page_opens_after_home(page):
    web.goto_page(page, "Lesson")
    assert "Lesson" in page.locator(f"{MAIN} h1").first.inner_text()
    page.get_by_text(re.compile(r"0 of 8 exercises done")).first.wait_for(state="visible")
    assert not web.exceptions_on_page(page)
    web.screenshot(page, web.SCREENSHOTS / "lesson.png")


def test_follow_the_diverge_link_train_and_see_the_exercise_done(page):
    link = page.locator('[data-testid="stPageLink"]').filter(has_text="Make it diverge").first
    link.scroll_into_view_if_needed()
    link.click()
    page.wait_for_function("() => location.pathname.endsWith('/train')")
    web.wait_idle(page)
    assert "lr=10" in page.url, page.url
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Learning rate").locator('input[type="range"]')
    shown = slider.first.get_attribute("aria-valuetext")
    if shown != "10":
        pytest.fail(f"the Train page shows learning rate {shown}, not the link's 10: the URL binding is missing")
    web.click_button(page, "Train")
    page.locator(web.ERROR).filter(has_text="Training stopped: the loss became").first.wait_for(
        state="visible", timeout=TRAIN_TIMEOUT
    )
    web.wait_idle(page)
    web.goto_page(page, "Lesson")
    page.locator(web.SUCCESS).filter(has_text="The divergence guard stopped").first.wait_for(state="visible")
    assert "check_circle" in page.locator(f"{MAIN} h3").filter(has_text=EXERCISE_1).first.inner_text()
    page.get_by_text(re.compile(r"1 of 8 exercises done")).first.wait_for(state="visible")
    web.screenshot(page, web.SCREENSHOTS / "lesson-after-diverging.png")


def test_the_report_downloads(page):
    web.goto_page(page, "Lesson")
    with page.expect_download() as info:
        page.locator('[data-testid="stDownloadButton"] button').first.click()
    text = info.value.path().read_text()
    assert text.startswith("# Lesson report: Softmax regression on Fashion-MNIST, step by step")
    assert f"## {EXERCISE_1} — done" in text


def test_the_lesson_page_fits_a_phone(browser, server):
    width, height = PHONE
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1, has_touch=True)
    context.set_default_timeout(60_000)
    try:
        phone = context.new_page()
        web.open_app(phone, server.url)
        web.goto_page(phone, "Lesson")
        phone.get_by_text(re.compile(r"of 8 exercises done")).first.wait_for(state="visible")
        assert_fits_the_width(phone)
        phone.screenshot(path=str(web.SCREENSHOTS / "phone-lesson.png"))  # the first screen
        web.screenshot(phone, web.SCREENSHOTS / "phone-lesson-full.png")
        assert not web.exceptions_on_page(phone)
    finally:
        context.close()
