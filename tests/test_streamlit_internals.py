"""tests/support/streamlit_internals.py, the one seam to Streamlit's internals: it fails loudly on an upgrade.

Each internal is checked for how the project uses it, on files made here, so a release that changes one
fails in this module, by name, rather than somewhere that merely relies on it."""

from __future__ import annotations

import streamlit

from tests.support import streamlit_internals as internals


def test_the_installed_streamlit_is_the_release_the_internals_were_read_in():
    assert streamlit.__version__ == internals.CHECKED_WITH, (
        f"Streamlit {streamlit.__version__}, but tests/support/streamlit_internals.py was read against "
        f"{internals.CHECKED_WITH}: re-read each internal it names in the new release, then move CHECKED_WITH"
    )


def test_discover_asgi_app_finds_an_st_app_and_names_it_for_the_server(tmp_path):
    script = tmp_path / "some_app.py"
    script.write_text("import streamlit as st\n\napp = st.App(__file__)\n")
    found = internals.discover_asgi_app(script)
    assert found.is_asgi_app and found.import_string == "some_app:app"


def test_discover_asgi_app_passes_over_a_plain_script(tmp_path):
    # Without an st.App, `streamlit run` runs the file as a script: no lifespan, no middleware.
    script = tmp_path / "plain.py"
    script.write_text('import streamlit as st\n\nst.title("Hello")\n')
    assert not internals.discover_asgi_app(script).is_asgi_app
