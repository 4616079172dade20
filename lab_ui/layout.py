"""The app's frame: the navigation over the pages, the sidebar (active model picker) and the active-model line."""

from __future__ import annotations

import streamlit as st

from . import persist, resources, state, training
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
        caption = job_caption(state.job())
        if caption:
            st.caption(caption)


def job_caption(train_job: state.TrainJob | None) -> str:
    """The sidebar's line on the session's job: training, stopping or pausing (leaving the Train page pauses
    it: saying "training" then would contradict the Train page's "paused" a moment later)."""
    if train_job is None:
        return ""
    if train_job.pause_reason is not None:
        return (
            f":material/pause: A run is pausing because {plain(train_job.pause_reason)}; Continue it on the Train page."
        )
    if train_job.stop_requested:
        return ":material/stop: A run is stopping on the Train page."
    return ":material/hourglass_top: A run is training on the Train page."


def active_model_line() -> None:
    """One line naming the active model and its test accuracy (every page shows it)."""
    name, run, _ = resources.active()
    acc = run.test_acc
    acc_text = f"test accuracy **{acc:.1%}**" if acc is not None else "not trained"
    st.info(f"**Active model:** {plain(name)} — {acc_text}. Change it in the sidebar.", icon=":material/psychology:")


def run_app() -> None:
    """The entry point's work on every script run: page config, navigation, sidebar, then the page."""
    st.set_page_config(page_title="Fashion-MNIST softmax lab", page_icon=":material/checkroom:", layout="wide")
    pages = {
        "home": st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
        "lesson": st.Page("app_pages/lesson.py", title="Lesson", icon=":material/school:", url_path="lesson"),
        "train": st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
        "browse": st.Page("app_pages/browse.py", title="Browse predictions", icon=":material/grid_view:"),
        "upload": st.Page("app_pages/upload.py", title="Upload a photo", icon=":material/photo_camera:"),
        "softmax": st.Page("app_pages/softmax.py", title="Inside softmax", icon=":material/functions:"),
    }
    page = st.navigation(list(pages.values()))
    resources.set_up()
    persist.restore()  # a reload or a reopened tab: this browser's stored runs (and its job) come back
    if page.url_path != pages["train"].url_path:
        training.pause_if_running("you left the Train page")
    else:
        training.sync()  # a job that ended since the last script run: the page shows how
    state.open_url(page.url_path)  # a link's settings, or the page's own into the address bar
    persist.save_if_changed()  # before the page: a page's st.rerun() or st.stop() would skip a later call
    sidebar()
    persist.show_note()
    page.run()
    persist.save_if_changed()
