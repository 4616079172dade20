"""The Train page's "Load a checkpoint": a .pt file checked in full before any of it enters the session."""

from __future__ import annotations

import streamlit as st

from fmnist_lib import CheckpointError, load_checkpoint
from lab_ui import state
from lab_ui.text import plain


def draw(busy: bool) -> None:
    # The page above grows when a checkpoint is added, so the expander is drawn anew after the rerun: keep it
    # open while it holds the message about the file in it, or the "Loaded ..." confirmation would be hidden.
    pending = st.session_state.get(state.CHECKPOINT_UPLOAD)
    seen = st.session_state.get(state.CHECKPOINT_SEEN)
    expanded = pending is not None and seen is not None and seen[0] == pending.file_id
    with st.expander("Load a checkpoint", expanded=expanded):
        st.caption("A `.pt` file downloaded from this app. Other files are refused; nothing in them is run.")
        upload = st.file_uploader("Checkpoint file", key=state.CHECKPOINT_UPLOAD, disabled=busy)
        if upload is None:
            return
        if seen is None or seen[0] != upload.file_id:
            seen = _take(upload)
            st.session_state[state.CHECKPOINT_SEEN] = seen
            if seen[1] == "success":
                st.rerun()  # the run list, the sidebar and the latest run now show it
        (st.success if seen[1] == "success" else st.error)(seen[2])


def _take(upload) -> tuple[str, str, str]:
    """(file id, "success" or "error", message): the file loaded as a run of the session, or why not."""
    try:
        loaded = load_checkpoint(upload.getvalue())
    except CheckpointError as e:
        return upload.file_id, "error", f"**{plain(upload.name)}** was refused: {e}"
    try:
        lab_run = state.add_run(loaded, origin="checkpoint", name="")
    except state.NoRoom as e:
        return upload.file_id, "error", f"**{plain(upload.name)}** was not loaded. {e}"
    lab_run.name = f"#{lab_run.id} loaded from {upload.name}"
    if loaded.history:
        state.set_active(lab_run.id)
    acc = f" Test accuracy {loaded.test_acc:.1%}." if loaded.test_acc is not None else ""
    return upload.file_id, "success", f"Loaded **{plain(upload.name)}**. {loaded.message}{acc}"
