"""A page's link: the note on what a link held and the page ignored, and the "Link to this experiment" box.

The settings are kept in the address bar by lab_ui/state.py (open_url, write_url); this module only draws.
"""

from __future__ import annotations

import streamlit as st

from fmnist_lib import links

from . import state
from .text import plain


def notes(page: str) -> None:
    """One warning naming each parameter of the link that opened `page` which was ignored (nothing if none).

    What a URL held is shown as text: every note goes through plain(), so `<script>` or `**x**` stay as typed."""
    ignored = state.url_notes(page)
    if not ignored:
        return
    lines = "\n".join(f"- {plain(n)}" for n in ignored)
    st.warning(
        f"**This link asked for settings the page does not offer**; it uses its defaults for them:\n\n{lines}",
        icon=":material/link_off:",
    )


def url(page: str) -> str:
    """The full URL of `page` with its current settings (relative when the browser's address is unknown)."""
    values = state.url_values(page)
    here = st.context.url  # scheme, host, port and the page's path, without the query (None in AppTest)
    if not here:
        return links.link(page, values)
    query = links.query_string(page, values)
    return f"{here}?{query}" if query else here


def link_box(page: str, what: str) -> None:
    """The page's URL in a copyable box, under "Link to this experiment" and `what` (Markdown) it keeps."""
    st.markdown(":material/link: **Link to this experiment**")
    st.code(url(page), language=None, wrap_lines=True)
    st.caption(what)
