"""End-to-end: experiment links in Debian's Chromium (lab_ui/state.py's open_url and write_url).

A Train link opened in a fresh browser context shows its settings and trains to the same test accuracy as
the same settings set by hand; the address bar follows a slider; a page switch and the Back button keep each
page's settings; an Inside softmax link shows its test image at its temperature; a hostile link is named as
text. Screenshots of the link box: artifacts/screenshots/train-link*.png (docs/screenshots/ keeps a copy).
Run alone: .venv/bin/python -m pytest -m browser tests/test_e2e_links.py
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support import server as web

pytestmark = web.browser_marks()

ACCURACY = re.compile(r"Test accuracy\s*:?\s*(\d{1,3}\.\d)\s*%")
TRAIN_TIMEOUT = 120_000  # ms
LINK = {"epochs": "1", "seed": "7"}  # a 1-epoch softmax run: seconds


@pytest.fixture
def fresh(browser):
    """A new browser context (no cookies, a new session) per call; all closed at the end."""
    contexts = []

    def make(width: int = 1400, height: int = 1000):
        context = web.new_context(browser, width, height)
        context.set_default_timeout(60_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for c in contexts:
        c.close()


def query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def wait_query(page, want: dict[str, str], timeout: float = 15_000) -> None:
    """Until the address bar holds exactly `want` (the app writes it a moment after a script run)."""
    page.wait_for_function(
        """(want) => {
            const got = Object.fromEntries(new URLSearchParams(location.search));
            return JSON.stringify(Object.entries(got).sort()) === JSON.stringify(Object.entries(want).sort());
        }""",
        arg=want,
        timeout=timeout,
    )


def slider(page, label: str):
    return page.locator(f'input[type="range"][aria-label="{label}"]').first


def seed_box(page):
    return page.locator('[data-testid="stNumberInput"]').filter(has_text="Seed").locator("input").first


def link_box(page) -> str:
    return page.locator('[data-testid="stCode"]').first.inner_text().strip()


def train_and_read_accuracy(page) -> str:
    web.click_button(page, "Train")
    done = page.locator(web.SUCCESS).filter(has_text=ACCURACY)
    done.first.wait_for(state="visible", timeout=TRAIN_TIMEOUT)
    web.wait_idle(page, timeout=TRAIN_TIMEOUT / 1000)
    return ACCURACY.search(done.first.inner_text()).group(1)


def test_a_train_link_in_a_fresh_context_shows_its_settings_and_trains_like_by_hand(fresh, server):
    linked = fresh()
    web.open_app(linked, f"{server.url}/train?epochs=1&seed=7")
    assert slider(linked, "Epochs").get_attribute("aria-valuetext") == "1"
    assert seed_box(linked).input_value() == "7"
    assert link_box(linked) == f"{server.url}/train?epochs=1&seed=7"
    assert not linked.locator(web.SUCCESS).filter(has_text=ACCURACY).count(), "a link never trains by itself"
    linked.set_viewport_size({"width": 1280, "height": 900})
    linked.locator('[data-testid="stCode"]').first.scroll_into_view_if_needed()
    linked.wait_for_timeout(500)
    linked.screenshot(path=str(web.SCREENSHOTS / "train-link.png"))
    from_link = train_and_read_accuracy(linked)

    by_hand = fresh()
    web.open_app(by_hand, f"{server.url}/train")
    assert query(by_hand) == {}
    assert web.set_epochs(by_hand, "Home") == "1"
    wait_query(by_hand, {"epochs": "1"})  # the address bar follows the slider
    seed_box(by_hand).fill("7")
    seed_box(by_hand).press("Enter")
    web.wait_idle(by_hand)
    wait_query(by_hand, LINK)
    assert link_box(by_hand) == f"{server.url}/train?epochs=1&seed=7"
    assert train_and_read_accuracy(by_hand) == from_link
    assert not web.exceptions_on_page(linked) and not web.exceptions_on_page(by_hand)


def test_the_link_box_on_a_phone(fresh, server):
    phone = fresh(390, 844)
    web.open_app(phone, f"{server.url}/train?lr=10&epochs=3&seed=7")
    box = phone.locator('[data-testid="stCode"]').first
    box.scroll_into_view_if_needed()
    phone.wait_for_timeout(500)
    width = box.evaluate("e => [e.scrollWidth, e.getBoundingClientRect().width]")
    assert width[0] <= width[1] + 1, f"the link is cut on a phone: {width}"
    web.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(web.SCREENSHOTS / "train-link-phone.png"))


def _step_history(page, step, path: str) -> None:
    """Back or Forward (`step`) until the page is `path`: the navigation's own bare entry may come first."""
    for _ in range(2):
        step()
        page.wait_for_selector(web.IDLE, state="attached")
        if path in page.url:
            break


def test_a_page_switch_and_the_back_button_keep_each_pages_settings(fresh, server):
    page = fresh()
    web.open_app(page, f"{server.url}/train?epochs=3&seed=5")
    web.goto_page(page, "Browse")
    page.wait_for_function("() => new URLSearchParams(location.search).has('batch')")
    browse = query(page)
    assert set(browse) == {"batch"}, browse
    web.goto_page(page, "Train")
    wait_query(page, {"epochs": "3", "seed": "5"})
    assert slider(page, "Epochs").get_attribute("aria-valuetext") == "3"
    # Back: to Browse, with its batch (the navigation's own bare entry for /train may come first).
    _step_history(page, page.go_back, "/browse")
    page.locator('[data-testid="stMain"] h1').filter(has_text="Browse").first.wait_for(state="visible")
    wait_query(page, browse)
    assert browse["batch"] in link_box(page)
    _step_history(page, page.go_forward, "/train")
    page.locator('[data-testid="stMain"] h1').filter(has_text="Train").first.wait_for(state="visible")
    wait_query(page, {"epochs": "3", "seed": "5"})
    assert slider(page, "Epochs").get_attribute("aria-valuetext") == "3"
    assert not web.exceptions_on_page(page)


def test_an_inside_softmax_link_shows_its_image_at_its_temperature(fresh, server):
    page = fresh()
    web.open_app(page, f"{server.url}/softmax?src=index&i=4242&t=3")
    main = page.locator('[data-testid="stMain"]')
    main.get_by_text("Test image #4,242", exact=False).first.wait_for(state="visible")
    index = page.locator('[data-testid="stNumberInput"]').filter(has_text="Test image index").locator("input")
    assert index.first.input_value() == "4242"
    assert slider(page, "Temperature T").get_attribute("aria-valuetext") == "3"
    assert link_box(page) == f"{server.url}/softmax?src=index&i=4242&t=3"
    assert not web.exceptions_on_page(page)


def test_a_hostile_link_is_named_as_text_and_an_unknown_page_gets_an_answer(fresh, server):
    page = fresh()
    hostile = "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
    web.open_app(page, f"{server.url}/train?model={hostile}&epochs=100000&lr=abc")
    note = page.locator(web.WARNING).filter(has_text="does not offer").first
    note.wait_for(state="visible")
    text = note.inner_text()
    assert "model=<img src=x onerror" in text and "epochs=100000" in text and "lr=abc" in text
    assert page.locator('[data-testid="stMain"] img[src="x"]').count() == 0, "a URL's text became HTML"
    assert slider(page, "Epochs").get_attribute("aria-valuetext") == "10"
    wait_query(page, {})
    other = fresh()
    web.open_app(other, f"{server.url}/no-such-page?lr=10")
    other.get_by_text("Page not found").first.wait_for(state="visible")
    assert not web.exceptions_on_page(other)
