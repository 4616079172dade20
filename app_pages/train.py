"""Train: choose the settings, train live, compare runs, download and load checkpoints."""

import streamlit as st

from lab_ui import layout, resources, share, state
from lab_ui.train_page import checkpoint_upload, controls, live, session_file, session_runs

st.title(":material/model_training: Train a model")
share.notes("train")
resources.dataset()  # its own message, and nothing else, if the data is missing
layout.active_model_line()

busy = state.job() is not None
left, right = st.columns([1, 2], gap="large")
with left:
    st.subheader("Settings")
    controls.settings(busy)
    share.link_box(
        "train",
        "Every setting above, the seed too: whoever opens it gets these settings, and one click on Train gives "
        "the same run, to the last digit. Opening a link never starts training by itself.",
    )
with right:
    live.panel()

st.divider()
st.subheader("Runs of this session")
session_runs.draw(busy)
checkpoint_upload.draw(busy)
session_file.draw(busy)
