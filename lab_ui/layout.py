"""What every page shows: the sidebar (active model picker) and the active-model line."""

from __future__ import annotations

import streamlit as st

from . import resources, state
from .text import plain

DEFAULT_OPTION = 0  # the picker's value for the default model (run ids start at 1)


def _label(run_id: int) -> str:
    if run_id == DEFAULT_OPTION:
        return resources.DEFAULT_NAME
    lab_run = state.find_run(run_id)
    if lab_run is None:
        return "(removed run)"
    acc = lab_run.run.test_acc
    # Accuracy first: the sidebar is narrow and cuts long labels at the end.
    return f"{acc:.1%} · {lab_run.name}" if acc is not None else f"{lab_run.name} · not trained yet"


def sidebar() -> None:
    """The active-model picker: the default model or any run of the session with at least one epoch."""
    ss = st.session_state
    wkey = state.widget_key(state.ACTIVE_PICK)
    options = [DEFAULT_OPTION] + [r.id for r in state.runs() if r.run.history]
    current = state.active_id()  # None if the default model is active or the run is gone
    ss[state.ACTIVE] = current
    # The stored value is state.ACTIVE (the Train page changes it when a run starts); copy it into
    # the widget before drawing. A run without any epoch yet shows as the default, which it uses.
    ss[wkey] = current if current in options else DEFAULT_OPTION

    def _picked() -> None:
        ss[state.ACTIVE] = None if ss[wkey] == DEFAULT_OPTION else ss[wkey]

    with st.sidebar:
        st.selectbox(
            "Active model",
            options,
            format_func={o: _label(o) for o in options}.get,  # labels fixed at drawing time
            key=wkey,
            on_change=_picked,
            help="The model Browse and Upload use. Train a model or load a checkpoint on the Train page to add one.",
        )
        job = state.job()
        if job is not None:
            st.caption(":material/hourglass_top: A run is training on the Train page.")


def active_model_line() -> None:
    """One line naming the active model and its test accuracy (every page shows it)."""
    name, run, _ = resources.active()
    acc = run.test_acc
    acc_text = f"test accuracy **{acc:.1%}**" if acc is not None else "not trained"
    st.info(f"**Active model:** {plain(name)} — {acc_text}. Change it in the sidebar.", icon=":material/psychology:")


def ensure_entry_point() -> None:
    """Run the page through streamlit_app.py even when a cold server's first visit is a deep link.

    Streamlit keeps its old "pages/ folder" mode (every file in pages/ a page of its own, without
    the entry script) until st.navigation is first called in the server process. A first visit
    straight to /train would then run pages/train.py alone: no navigation, no sidebar, no page
    config. Each page calls this first: it leaves that mode and reruns through the entry point,
    which finds the same page again by its URL.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without it has no such mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
