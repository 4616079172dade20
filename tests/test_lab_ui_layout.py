"""lab_ui/layout.py: why every page starts with ensure_entry_point."""

from __future__ import annotations

from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager

ROOT = Path(__file__).resolve().parent.parent


def test_streamlit_still_starts_an_app_with_a_pages_folder_in_its_older_mode(monkeypatch):
    """Streamlit treats an app with pages/ beside its entry script as a "pages/ folder" app until
    st.navigation is first called, and then runs a deep link's page script alone. If this fails
    after a Streamlit upgrade, that mode is gone: ensure_entry_point and its call atop every page
    can go too (tests/test_e2e.py's deep-link test and test_app_home.py still check the result)."""
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)  # as in a fresh server process
    PagesManager(str(ROOT / "streamlit_app.py"), setup_watcher=False)
    assert PagesManager.uses_pages_directory is True
