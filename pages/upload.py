"""Upload: classify your own photo, step by step."""

import streamlit as st

from lab_ui import layout, resources

st.title("📷 Upload a photo")
data = resources.dataset()
layout.active_model_line()
st.caption("Coming next: preprocessing stages and the Top-3.")
