"""AppTest: the entry point and the Home page."""

from __future__ import annotations

import pytest

from tests.support.apptest import open_page, texts

pytestmark = pytest.mark.integration


def test_home_runs_and_says_what_is_active():
    at = open_page()
    assert "Home" in at.title[0].value
    body = " ".join(texts(at.markdown))
    assert "60,000 training" in body and "10,000 test" in body
    info = " ".join(texts(at.info))
    assert "Active model:" in info and "Default" in info and "test accuracy" in info
    # the sidebar's picker names the default model
    assert at.sidebar.selectbox[0].label == "Active model"
    assert len(at.get("page_link")) == 4


@pytest.mark.parametrize(
    "page", ["pages/train.py", "pages/browse.py", "pages/upload.py", "pages/softmax.py", "pages/home.py"]
)
def test_every_page_runs_before_any_training(page):
    at = open_page(page)
    assert len(at.title) == 1, "every page has a title, drawn once (see layout.ensure_entry_point)"
    assert at.sidebar.selectbox[0].label == "Active model", "the page is drawn inside the app's frame"
    assert any("Active model:" in t for t in texts(at.info)), "every page says which model is active"
