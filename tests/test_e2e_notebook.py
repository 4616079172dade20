"""The Train page's Notebook (.ipynb) download in Chromium: a trained run's notebook, as the browser saves it.

Screenshots of the downloads row (desktop 1280 px and a 390 px phone) go to artifacts/screenshots/.
Run alone: .venv/bin/python -m pytest -m browser tests/test_e2e_notebook.py
"""

from __future__ import annotations

import nbformat

from fmnist_lib import default_config
from tests.support import server as web

pytestmark = web.browser_marks()


def _train_one_epoch(page) -> None:
    web.goto_page(page, "Train")
    assert web.set_epochs(page, "Home") == "1"
    web.click_button(page, "Train")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stProgress\"]')"
        ' && document.querySelectorAll(\'[data-testid="stMain"] [data-testid="stTable"] tbody tr\').length >= 1',
        timeout=180_000,
    )
    web.wait_idle(page, timeout=120)


def test_the_notebook_download_is_the_runs_notebook(server, browser, tmp_path):
    for width, height, suffix in ((1280, 900, ""), (390, 844, "-phone")):
        context = web.new_context(browser, width=width, height=height)
        context.set_default_timeout(120_000)
        page = context.new_page()
        try:
            web.open_app(page, server.url)
            _train_one_epoch(page)
            button = page.get_by_role("button", name="Notebook (.ipynb)")
            button.scroll_into_view_if_needed()
            with page.expect_download() as info:
                button.click()
            download = info.value
            assert download.suggested_filename.endswith("_softmax.ipynb")
            path = tmp_path / f"run{suffix}.ipynb"
            download.save_as(path)
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
            meta = nb.metadata.fmnist_lab
            assert meta.config == default_config("softmax", epochs=1).to_dict() and meta.epochs == 1
            assert meta.lab_test_accuracy > 0.7
            assert web.exceptions_on_page(page) == []
            web.screenshot(page, web.SCREENSHOTS / f"train-notebook{suffix}.png")
        finally:
            context.close()
