"""Lesson: the tutorial as a path through the lab, with exercises the lab checks from this session."""

import streamlit as st

from lab_ui.lesson_page import lesson_view

st.title(":material/school: Lesson")
st.caption(
    "Follow the tutorial step by step: each link opens a page of the lab with its settings chosen. "
    "The exercises are checked from what you do in this session."
)
lesson_view.draw()
