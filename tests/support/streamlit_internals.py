"""The one seam to Streamlit's internals: every name the project takes from outside Streamlit's public API.

The app itself uses the public API only (`streamlit`, `st.App`, `st.context`, ...); a test needs one internal:

- `discover_asgi_app` (streamlit.web.server.app_discovery): how `streamlit run` decides to serve a script
  through its `st.App`, and so through its lifespan (the warm-up) and middleware (the session cookie).
  tests/test_warmup.py asks it about streamlit_app.py.

An internal may move or change in any release, so it is imported here and nowhere else (a test walks every
import: tests/test_architecture.py), and tests/test_streamlit_internals.py checks the release it was read
against (`CHECKED_WITH`) and how each name behaves: an upgrade fails there, by name, before a test that
merely uses it fails in a puzzling way. After an upgrade: read each name's new source, adapt, then move
`CHECKED_WITH`.
"""

from __future__ import annotations

import streamlit

CHECKED_WITH = "1.67.0"  # the Streamlit release whose source the names below were read in

try:
    from streamlit.web.server.app_discovery import discover_asgi_app
except ImportError as e:  # said plainly: which internal, in which release, and where it is used
    raise ImportError(
        f"Streamlit {streamlit.__version__} has no streamlit.web.server.app_discovery.discover_asgi_app "
        f"(read in {CHECKED_WITH}): see tests/support/streamlit_internals.py"
    ) from e

__all__ = ["CHECKED_WITH", "discover_asgi_app"]
