"""What every page shows: the sidebar (active model picker) and the active-model line."""

from __future__ import annotations

import streamlit as st

from . import resources, state


def _label(run_id: int | None) -> str:
    if run_id is None:
        return resources.DEFAULT_NAME
    lab_run = state.find_run(run_id)
    if lab_run is None:
        return "(removed run)"
    acc = lab_run.run.test_acc
    return f"{lab_run.name} · {acc:.1%}" if acc is not None else f"{lab_run.name} · not trained yet"


def sidebar() -> None:
    """The active-model picker: the default model or any run of the session with at least one epoch."""
    ss = st.session_state
    options = [None] + [r.id for r in state.runs() if r.run.history]
    current = state.active_id()
    if current not in options:
        current = None
    # Its stored value is state.ACTIVE; copy it into the widget before drawing (the Train page
    # may have changed it after the widget was last drawn).
    ss[state.ACTIVE] = current
    ss[state.widget_key(state.ACTIVE_PICK)] = current
    with st.sidebar:
        st.selectbox(
            "Active model",
            options,
            format_func=_label,
            key=state.widget_key(state.ACTIVE_PICK),
            on_change=lambda: ss.__setitem__(state.ACTIVE, ss[state.widget_key(state.ACTIVE_PICK)]),
            help="The model Browse and Upload use. Train a model or load a checkpoint on the Train page to add one.",
        )
        job = state.job()
        if job is not None:
            st.caption("⏳ A run is training on the Train page.")


def active_model_line() -> None:
    """One line naming the active model and its test accuracy (every page shows it)."""
    name, run, _ = resources.active()
    acc = run.test_acc
    acc_text = f"test accuracy **{acc:.1%}**" if acc is not None else "not trained"
    st.info(f"**Active model:** {name} — {acc_text}. Change it in the sidebar.", icon="🧠")
