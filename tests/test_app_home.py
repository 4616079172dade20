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
    assert len(at.get("page_link")) == 5  # Lesson, Train, Browse, Upload, Inside softmax


@pytest.mark.parametrize(
    "page",
    ["app_pages/train.py", "app_pages/browse.py", "app_pages/upload.py", "app_pages/softmax.py", "app_pages/home.py"],
)
def test_every_page_runs_before_any_training(page):
    at = open_page(page)
    assert len(at.title) == 1, "every page has a title, drawn once"
    assert at.sidebar.selectbox[0].label == "Active model", "the page is drawn inside the app's frame"
    assert any("Active model:" in t for t in texts(at.info)), "every page says which model is active"


def test_a_data_folder_named_but_not_used_is_said_on_home(monkeypatch, tmp_path):
    """FMNIST_DATA names a folder without the data: the app falls back to ./data (or Debian's) and Home says
    the named folder was not used, and why, as plain text."""
    from fmnist_lib import load_fashion_mnist
    from lab_ui import resources

    named = tmp_path / "my_[data](x)"
    named.mkdir()
    monkeypatch.setenv("FMNIST_DATA", str(named))
    monkeypatch.setattr(resources, "DATA", resources.Shared(lambda: load_fashion_mnist(download=False)))
    at = open_page()
    (warning,) = [w for w in texts(at.warning) if "was not used" in w]
    assert r"my\_\[data\](x)" in warning, "the folder's name, escaped: shown as text, never a link"
    assert "60,000 training" in " ".join(texts(at.markdown)), "the data found elsewhere is used"
