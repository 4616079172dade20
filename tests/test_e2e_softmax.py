"""End-to-end: the "Inside softmax" page in Debian's Chromium (its formulas render, the three losses
are equal, the naive softmax breaks where the stable one does not, and a photo from Upload is used, its class
said by the learner, and is still on Upload when they come back).

Screenshots (desktop 1400 px, phone 390 px) go to artifacts/screenshots/softmax*.png.
Run alone: .venv/bin/python -m pytest -m browser tests/test_e2e_softmax.py
"""

from __future__ import annotations

import re

import pytest

from tests.support import server as web
from tests.support.images import garment_photo
from tests.support.inside import KEY_FORMULAS

pytestmark = web.browser_marks()

LOSS_LABELS = ("F.cross_entropy(z, y)", "F.nll_loss(F.log_softmax(z), y)", "-log(softmax(z)[y])")


@pytest.fixture(scope="module")
def page(server, browser):
    context = web.new_context(browser)
    context.set_default_timeout(60_000)
    p = context.new_page()
    web.open_app(p, server.url)
    yield p
    context.close()


def _main(page):
    return page.locator('[data-testid="stMain"]')


def _losses(page) -> list[str]:
    values = []
    for label in LOSS_LABELS:
        metric = _main(page).locator('[data-testid="stMetric"]').filter(has_text=label).first
        metric.wait_for(state="visible")
        values.append(metric.locator('[data-testid="stMetricValue"]').inner_text().strip())
    return values


def test_formulas_losses_and_the_naive_stable_contrast(page):
    web.goto_page(page, "Inside softmax")
    main = _main(page)
    main.locator(".katex").first.wait_for(state="visible")
    assert main.locator(".katex-display").count() >= 8, "each step has its formula"
    formulas = " ".join(main.locator(".katex-display .katex-mathml annotation").all_text_contents())
    for tex in KEY_FORMULAS:
        assert tex in formulas, f"missing formula {tex!r}"
    losses = _losses(page)
    assert len(set(losses)) == 1 and re.fullmatch(r"\d+\.\d{6}", losses[0]), losses
    broken = main.locator(web.ERROR).filter(has_text="Broken")
    assert broken.count() == 1 and "nan" in broken.inner_text().lower(), "the naive softmax breaks at c = 100"
    assert main.locator(web.SUCCESS).filter(has_text="Always works").count() == 1
    assert not web.exceptions_on_page(page)
    web.screenshot(page, web.SCREENSHOTS / "softmax.png")
    web.screenshot(page, web.SCREENSHOTS / "softmax-phone.png", width=390)


def test_a_test_image_by_index_and_the_last_upload(page):
    main = _main(page)
    main.get_by_text("A test image by index").click()
    web.wait_idle(page)
    main.get_by_text("Test image #0,").first.wait_for(state="visible")  # index 0 by default
    assert len(set(_losses(page))) == 1
    web.goto_page(page, "Upload")
    data, _ = garment_photo(index=1)
    web.upload(page, "photo.jpg", data, "image/jpeg")
    main.get_by_text(re.compile("Predicted:")).first.wait_for(state="visible")
    web.goto_page(page, "Inside softmax")
    main.get_by_text("Your last photo on Upload").click()
    web.wait_idle(page)
    main.get_by_text(re.compile("whose class you have not said yet")).first.wait_for(state="visible")
    assert main.locator('[data-testid="stMetric"]').count() == 0, "no loss until the photo's class is said"
    web.choose_option(page, "Which class is it?", "Pullover")
    main.get_by_text(re.compile("Your last photo on Upload, which you say is")).first.wait_for(state="visible")
    assert len(set(_losses(page))) == 1
    web.goto_page(page, "Upload")  # the uploader forgot its file while another page was shown; the page did not
    main.get_by_text("Your last photo: photo.jpg").first.wait_for(state="visible")
    main.get_by_text(re.compile("Predicted:")).first.wait_for(state="visible")
    web.click_button(page, "Forget it", exact=False)
    web.wait_idle(page)
    main.get_by_text(re.compile("Predicted:")).first.wait_for(state="hidden")
    assert not web.exceptions_on_page(page)
