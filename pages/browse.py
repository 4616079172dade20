"""Browse: the active model's predictions on test images, its mistakes and its confusion matrix."""

import streamlit as st

from lab_ui import layout, resources

st.title("🔎 Browse predictions")
data = resources.dataset()
layout.active_model_line()
st.caption("Coming next: a random test batch, mistakes, and the confusion matrix.")
