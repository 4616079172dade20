"""The Train page's "Save or load the whole session": every run in one file, and forgetting them all."""

from __future__ import annotations

import streamlit as st

from lab_ui import persist, state
from lab_ui.text import plain


def draw(busy: bool) -> None:
    pending = st.session_state.get(state.SESSION_FILE_UPLOAD)
    seen = st.session_state.get(state.SESSION_FILE_SEEN)
    expanded = pending is not None and seen is not None and seen[0] == pending.file_id
    with st.expander("Save or load the whole session", expanded=expanded):
        st.caption(
            "This browser keeps your runs for 12 hours, through reloads and closed tabs. To move to another "
            "machine or hand in your work, save them all in one file and load it there. Files are checked "
            "like checkpoints; nothing in them is run."
        )
        st.download_button(
            "Save the session (all runs)",
            persist.session_file_bytes(),  # made when clicked, from the runs as drawn now
            file_name="fmnist-session.pt",
            mime="application/octet-stream",
            on_click="ignore",
            icon=":material/save:",
            disabled=busy or not state.runs(),
        )
        upload = st.file_uploader("Session file", key=state.SESSION_FILE_UPLOAD, disabled=busy)
        if upload is not None:
            if seen is None or seen[0] != upload.file_id:
                level, message = persist.load_session_file(upload.getvalue())
                seen = (upload.file_id, level, message)
                st.session_state[state.SESSION_FILE_SEEN] = seen
                if level == "success":
                    st.rerun()  # the run list, the sidebar and the latest run now show them
            (st.success if seen[1] == "success" else st.error)(plain(seen[2]))
        st.button(
            "Forget this session's runs",
            icon=":material/delete:",
            key=state.FORGET_BUTTON,
            on_click=persist.forget,
            disabled=busy or not state.runs(),
            help="Removes every run of this session, here and in the server's store.",
        )
