"""End-to-end on a 390×844 phone screen, in Debian's Chromium: every page fits the screen's width (nothing
scrolls sideways but a box made to scroll) and shows its key element on the first screen; on Browse the
cards sit two or more to a row and every count of the confusion matrix fits inside its cell, and a tap on a
cell (or a click on a desktop) shows that cell's images.

Screenshots of each page's first screen go to artifacts/screenshots/phone-*.png.
Run alone: .venv/bin/python -m pytest -m browser tests/test_e2e_phone.py
"""

from __future__ import annotations

import re

import pytest

from tests.support import server as web

pytestmark = web.browser_marks()

PHONE = (390, 844)
MAIN = '[data-testid="stMain"]'

# What sticks out of the viewport's width: elements of the app (the sidebar aside: closed, it waits
# off-screen) whose box goes past the right or left edge, unless they sit inside a box of the page that
# scrolls sideways on purpose (overflow-x auto/scroll: a formula, a table) or clips what sticks out (a
# progress bar's sliding fill), or is visually hidden (a 1 px
# box of text for screen readers). Also whether the document itself, or the page's scrolling
# containers, are wider than the screen.
_OVERFLOW = """() => {
    const vw = window.innerWidth;
    const block = document.querySelector('[data-testid="stMainBlockContainer"]');
    const scrollBox = el => {
        for (let a = el.parentElement; a && a !== block && block.contains(a); a = a.parentElement) {
            const o = getComputedStyle(a).overflowX;
            const r = a.getBoundingClientRect();
            if (o !== 'visible' && r.left >= -0.5 && r.right <= vw + 0.5) return true;  // scrolls or clips
            if (o !== 'visible' && (r.width <= 1 || r.height <= 1)) return true;
        }
        return false;
    };
    const name = el => (el.getAttribute('data-testid') || el.tagName.toLowerCase())
        + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '');
    const wide = [];
    for (const el of document.querySelectorAll('[data-testid="stApp"] *')) {
        if (el.closest('[data-testid="stSidebar"]')) continue;
        const r = el.getBoundingClientRect();
        if (r.width <= 1 || r.height <= 1) continue;  // nothing, or a 1 px link for screen readers
        if ((r.right > vw + 0.5 || r.left < -0.5) && !scrollBox(el)) {
            wide.push(`${name(el)} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
        }
    }
    const scrollers = ['stApp', 'stAppViewContainer', 'stMain', 'stMainBlockContainer']
        .map(t => document.querySelector(`[data-testid="${t}"]`))
        .filter(el => el && el.scrollWidth > el.clientWidth + 1)
        .map(el => `${el.getAttribute('data-testid')} scrolls ${el.scrollWidth} > ${el.clientWidth}`);
    return {doc: document.documentElement.scrollWidth, vw, wide: wide.slice(0, 20), scrollers};
}"""

# The cells of the confusion matrix (Vega's SVG: one path per cell, one text per count, both named by
# their aria-label "...; true: <class>; predicted: <class>; ..."), with their boxes on the screen.
_MATRIX = """(chart) => {
    const cell = el => {
        const l = el.getAttribute('aria-label') || '';
        const t = /true: ([^;]+);/.exec(l), p = /predicted: ([^;]+);/.exec(l), n = /count: (\\d+)/.exec(l);
        const r = el.getBoundingClientRect();
        return {true: t && t[1], predicted: p && p[1], count: n ? +n[1] : null, text: el.textContent,
                left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    };
    return {
        cells: [...chart.querySelectorAll('g.mark-rect.role-mark path')].map(cell),
        counts: [...chart.querySelectorAll('g.mark-text.role-mark text')].map(cell).filter(c => c.text.trim()),
    };
}"""


@pytest.fixture(scope="module")
def phone(browser, server):
    """One tab on a 390×844 touch screen, through the tests in file order."""
    width, height = PHONE
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1, has_touch=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        web.open_app(page, server.url)
        yield page
    finally:
        context.close()


def open_on_phone(page, title: str, key) -> None:
    """Go to a page, wait until its key element is drawn and the sidebar is closed (on a phone it covers
    the page), save the first screen."""
    web.goto_page(page, title)
    key.first.wait_for(state="visible")
    page.wait_for_function(
        """() => { const s = document.querySelector('[data-testid="stSidebar"]');
                   return !s || s.getBoundingClientRect().right <= 0; }"""
    )
    page.wait_for_timeout(500)  # charts and images settle to their width
    page.screenshot(path=str(web.SCREENSHOTS / f"phone-{title.split()[0].lower()}.png"))
    assert not web.exceptions_on_page(page), web.exceptions_on_page(page)


def assert_fits_the_width(page) -> None:
    found = page.evaluate(_OVERFLOW)
    assert found["doc"] <= found["vw"], f"the page is {found['doc']} px wide on a {found['vw']} px screen"
    assert not found["scrollers"], found["scrollers"]
    assert not found["wide"], "wider than the screen, outside any scrolling box:\n" + "\n".join(found["wide"])


def assert_in_view(page, locator, what: str) -> None:
    box = locator.bounding_box()
    width, height = PHONE
    assert box is not None, f"{what}: not drawn"
    inside = box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width and box["y"] + box["height"] <= height
    assert inside, f"{what} is not on the first screen: {box}"


# --------------------------------------------------------------------------- every page


def test_the_width_check_sees_what_sticks_out_but_not_a_scrolling_box(phone):
    """The check itself: a 600 px box on the page is caught; the same box in a box that scrolls is not."""
    web.goto_page(phone, "Home")
    phone.evaluate(
        """() => { const d = document.createElement('div'); d.id = 'e2e-wide';
                   d.innerHTML = '<div style="width: 600px; height: 20px"></div>';
                   document.querySelector('[data-testid="stMainBlockContainer"]').appendChild(d); }"""
    )
    try:
        found = phone.evaluate(_OVERFLOW)
        assert found["wide"] and found["scrollers"], found  # each of the two checks sees it
        phone.evaluate("() => { document.getElementById('e2e-wide').style.overflowX = 'auto'; }")
        assert_fits_the_width(phone)
    finally:
        phone.evaluate("() => document.getElementById('e2e-wide').remove()")


def test_home_fits_and_shows_the_pages(phone):
    main = phone.locator(MAIN)
    link = main.locator('[data-testid="stPageLink"]').filter(has_text="Lesson").first  # the first of the pages
    open_on_phone(phone, "Home", link)
    assert_fits_the_width(phone)
    assert_in_view(phone, main.locator("h1").first, "the title")
    assert_in_view(phone, link, "the link to the Lesson")


def test_train_fits_the_width(phone):
    open_on_phone(phone, "Train", phone.get_by_role("button", name=re.compile(r"Train$")))
    assert_fits_the_width(phone)


def test_a_phone_closes_the_sidebar_after_a_page_is_tapped(browser, server):
    """Streamlit 1.67 closes the sidebar after a tap on a page link when the browser says it is a phone (its
    user agent; a narrow desktop window keeps it open): the app needs no script of its own for it."""
    width, height = PHONE
    context = browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=1, has_touch=True, is_mobile=True,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Mobile/15E148 Safari/604.1",
    )  # fmt: skip
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        web.open_app(page, server.url)
        expand = page.locator('[data-testid="stExpandSidebarButton"]')
        expand.first.click()
        page.locator(web.NAV_LINK).filter(has_text="Inside softmax").first.click()
        expand.first.wait_for(state="visible")  # closed again, by itself
    finally:
        context.close()


def test_after_pressing_train_the_live_run_is_in_view(browser, server):
    """On a phone the columns stack, settings first: pressing Train (at their foot) must bring the live run
    into view, not leave it below the controls. While a run trains the locked settings fold away.
    A session of its own: its run must not become the other tests' active model."""
    width, height = PHONE
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1, has_touch=True)
    context.set_default_timeout(60_000)
    phone = context.new_page()
    web.open_app(phone, server.url)
    train = phone.get_by_role("button", name=re.compile(r"Train$"))
    open_on_phone(phone, "Train", train)
    assert web.set_epochs(phone, "End") == "50"  # long enough to look at it while it trains
    train.first.scroll_into_view_if_needed()
    train.first.click()
    progress = phone.locator(MAIN).locator('[data-testid="stProgress"]').filter(has_text=re.compile(r"Epoch \d+ of 50"))
    progress.first.wait_for(state="visible")
    phone.wait_for_timeout(300)
    phone.screenshot(path=str(web.SCREENSHOTS / "phone-train-training.png"))
    assert_in_view(phone, progress.first, "the live run's progress bar")
    assert_fits_the_width(phone)
    stop = phone.get_by_role("button", name=re.compile(r"Stop$"))
    stop.first.scroll_into_view_if_needed()  # just above the live run
    stop.first.click()
    phone.locator(MAIN).get_by_text(re.compile(r"Stopped (after|part-way)")).first.wait_for(state="visible")
    context.close()


def test_browse_fits_with_two_or_more_cards_a_row_and_the_first_images_in_view(phone):
    main = phone.locator(MAIN)
    images = main.locator('[data-testid="stImage"] img')
    open_on_phone(phone, "Browse", images)
    assert_fits_the_width(phone)
    tops = [round(images.nth(i).bounding_box()["y"]) for i in range(8)]  # the batch of 8
    per_row = tops.count(tops[0])
    assert per_row >= 2, f"one card a row on a phone (image tops {tops})"
    for i in range(per_row):
        assert_in_view(phone, images.nth(i), f"image {i + 1} of the first row")


def _matrix(page) -> tuple[object, dict]:
    """The matrix's cells where they are on the screen, once the page has stopped moving: the cards' images
    above it load late and push it down (a tap aimed before that lands elsewhere)."""
    chart = page.locator(MAIN).locator(web.CHART).first
    page.locator(f"{web.CHART} g.mark-text.role-mark text").first.wait_for(state="attached")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stMain\"] img')].every(i => i.complete)"
    )
    previous = None
    for _ in range(20):
        chart.scroll_into_view_if_needed()
        m = chart.evaluate(_MATRIX)
        if m == previous:
            break
        previous = m
        page.wait_for_timeout(250)
    return chart, m


def test_every_count_of_the_confusion_matrix_fits_in_its_cell(phone):
    web.goto_page(phone, "Browse")
    chart, m = _matrix(phone)
    assert len(m["cells"]) == 100 and m["counts"], "a 10×10 matrix with counts"
    width = chart.bounding_box()["width"]
    assert width <= PHONE[0], f"the matrix is {width} px wide"
    cells = {(c["true"], c["predicted"]): c for c in m["cells"]}
    narrowest = min(c["right"] - c["left"] for c in m["cells"])
    assert narrowest >= 20, f"cells of {narrowest:.0f} px are too small to read or tap"
    for t in m["counts"]:
        c = cells[(t["true"], t["predicted"])]
        fits = (
            c["left"] <= t["left"] and t["right"] <= c["right"] and c["top"] <= t["top"] and t["bottom"] <= c["bottom"]
        )
        assert fits, f"the count {t['text']} ({t['true']} as {t['predicted']}) spills out of its cell"


def _click_a_cell_and_see_its_images(page, tap: bool = False) -> None:
    """Click (or tap) an off-diagonal cell other than the one shown: the page shows that cell's images."""
    main = page.locator(MAIN)
    line = main.get_by_text(re.compile(r"test images of"))
    shown = line.first.inner_text()
    true, predicted = ("Shirt", "T-shirt/top") if "predicted as T-shirt/top" not in shown else ("Pullover", "Coat")
    chart, m = _matrix(page)
    (cell,) = [c for c in m["cells"] if (c["true"], c["predicted"]) == (true, predicted)]
    web.arm_run_watch(page)
    x, y = (cell["left"] + cell["right"]) / 2, (cell["top"] + cell["bottom"]) / 2
    if tap:
        page.touchscreen.tap(x, y)
    else:
        page.mouse.click(x, y)
    web.wait_run_done(page)
    expected = f"{cell['count']:,} test images of {true} predicted as {predicted}"
    line.filter(has_text=expected).first.wait_for(state="visible", timeout=30_000)
    assert not web.exceptions_on_page(page)


def test_a_tap_on_a_cell_shows_its_images(phone):
    web.goto_page(phone, "Browse")
    _click_a_cell_and_see_its_images(phone, tap=True)


def test_upload_fits_and_shows_the_uploader(phone):
    dropzone = phone.locator('[data-testid="stFileUploaderDropzone"]')
    open_on_phone(phone, "Upload", dropzone)
    assert_fits_the_width(phone)
    assert_in_view(phone, dropzone.first, "the photo uploader")


def test_inside_softmax_fits_and_shows_the_first_step(phone):
    formula = phone.locator(MAIN).locator(".katex-display")
    open_on_phone(phone, "Inside softmax", formula)
    assert_fits_the_width(phone)
    assert_in_view(phone, phone.locator(MAIN).get_by_text("1. Pixels to logits").first, "step 1's heading")
    assert_in_view(phone, formula.first, "step 1's formula z = Wx + b")


# --------------------------------------------------------------------------- and on a desktop


def test_a_click_on_a_cell_shows_its_images_on_a_desktop(browser, server):
    context = web.new_context(browser)
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        web.open_app(page, server.url)
        web.goto_page(page, "Browse")
        _click_a_cell_and_see_its_images(page)
    finally:
        context.close()
