"""The Train page's run panel: the run being trained, drawn live from its job, or the latest run.

Two fragments that rerun while a job is on. The first (its name, progress bar and Stop) takes the job's
news into the run (training.sync) every training.progress_tick(): a quarter second while softmax trains
(its epochs take 0.1-0.3 s, so a bar read once a second was up to 9 epochs behind the worker when Stop
was clicked: bench/results/stop_latency.md) or while a run stops, once a second for the CNN (its epochs
take 10-70 s). The second, the curves and (softmax) the class templates, redraws once a second
(training.TICK_SECONDS): those cost most of a rerun's CPU and change only with an epoch. The worker does
the training; the panel only reads.
"""

from __future__ import annotations

import time

import streamlit as st

from fmnist_lib import TrainingRun
from fmnist_lib.analysis import templates
from fmnist_lib.jobs import QUEUED, JobView
from lab_ui import charts, persist, pictures, state, training
from lab_ui.text import plain
from lab_ui.train_page import controls, divergence

CHART_CAPTION = (
    "The charts below. Left: the training loss (cross-entropy, lower is better) averaged over each epoch. Right: "
    "accuracy on the training images seen during the epoch and on the 10,000 test images after it. "
    "Grey lines: chance (10%), human performance (83.5%) and the best linear classifier of the "
    "Fashion-MNIST benchmark (84.2%). "
)
TEMPLATES_CAPTION = (
    "Each image is one row of the weight matrix W shown as 28×28: the score of a class is the "
    "sum of the image's pixels weighted by its template. Blue pixels raise the class's score "
    "where the image is bright, red pixels lower it. Watch garment shapes appear as it trains."
)


def panel() -> None:
    """The subheader, the accuracy-zoom toggle and the live fragment (in the Train page's right column)."""
    busy = state.job() is not None
    st.subheader("Live training" if busy else "Latest run")
    st.toggle(
        "Zoom the accuracy axis to the curves",
        help="Zoomed (the default), the accuracy axis starts just below the lowest accuracy plotted, so the "
        "gap between training and test accuracy and the last few points gained are easy to see; chance (10%) "
        "falls outside and is named in a note. Off, the axis runs from 0 to 100%.",
        **state.bind(state.ACC_ZOOM, True),
    )
    if busy or state.runs():
        st.caption(CHART_CAPTION + charts.HUMAN_NOTE)  # outside the fragment: static text, not redrawn every tick
    train_job = state.job()
    stopping = train_job is not None and (train_job.stop_requested or train_job.pause_reason is not None)
    st.fragment(run_every=training.progress_tick(train_job) if busy else None)(_counted)(_draw_live, busy, stopping)
    st.fragment(run_every=training.TICK_SECONDS if busy else None)(_counted)(_draw_charts)


def _counted(draw, *args) -> None:
    # The CPU this rerun costs the server (its script thread), counted against the session's job.
    cpu0 = time.thread_time()
    try:
        draw(*args)
    finally:
        training.note_rerun(time.thread_time() - cpu0)


def _shown_run() -> state.LabRun | None:
    """The run the panel shows: the one training, else the latest."""
    train_job = state.job()
    return state.find_run(train_job.run_id) if train_job else (state.runs()[-1] if state.runs() else None)


def _draw_live(busy: bool, stopping: bool) -> None:
    """The run's name, its progress bar (or how it ended) and Stop.
    busy: a job was on when the page was drawn; stopping: it was being stopped then (the ticks are faster)."""
    view = training.sync()
    persist.save_if_changed()  # each new epoch is stored as it comes (a tick without one stores nothing)
    train_job = state.job()
    if train_job is not None and not busy:
        st.rerun(scope="app")  # Continue (in this fragment) started a job: the whole page, its controls locked
    if busy and train_job is None:
        # The job ended: its message at once, in this fragment, then the whole page (controls unlocked).
        notice = st.session_state.get(state.NOTICE)
        ended = state.find_run(notice[0]) if notice else None
        if ended is not None:
            show_notice(ended)
        st.rerun(scope="app")
    lab_run = _shown_run()
    if lab_run is None:
        st.caption("No run yet: choose settings and press **Train**. The curves appear here, epoch by epoch.")
        return
    run = lab_run.run
    st.caption(f"**{plain(lab_run.name)}** — {controls.describe_config(run.config)}")
    # One slot for the progress bar while training, else how the training ended (and Continue): always
    # written, so that neither lingers faded on the page while the other is shown.
    slot = st.empty()
    if train_job is not None:
        _progress(slot, view, train_job, run)
        _stop_button(train_job)  # below the bar: on a phone the bar is what must be in view after Train
    else:
        with slot.container():
            _ending(lab_run)
    if train_job is not None and train_job.stop_requested and not stopping:
        # Stop was clicked in this fragment, whose rerun already shows it: the whole page now (the sidebar, the
        # controls, and this panel ticking every STOP_TICK_SECONDS until the end of the test pass).
        st.rerun(scope="app")


def _draw_charts() -> None:
    """The curves of the run shown and, for softmax, its class templates. Drawn even before the first epoch
    (empty axes and the reference lines): the charts stay mounted in the browser from the page's first view
    on, instead of being built while a class's runs train."""
    lab_run = _shown_run()
    train_job = state.job()
    if lab_run is None:
        draw_history([], int(state.get(state.EPOCHS, 10)))  # the axes and the reference lines
        return
    run = lab_run.run
    target = train_job.target_epochs if train_job else max(run.config.epochs, run.epochs_done)
    draw_history([(lab_run.name, run.history)], target)
    if run.kind == "softmax":
        with st.expander("The 10 class templates (rows of W)", expanded=True):
            draw_templates(lab_run)
            st.caption(TEMPLATES_CAPTION)


def _stop_button(train_job: state.TrainJob) -> None:
    """Stop, beside the run's progress: in the bar's fragment, so its click reruns only the bar, which says
    "Stopped" at once (a rerun of the whole page took seconds on a loaded machine: bench/results/stop_latency.md)."""
    st.button(
        "Stop",
        icon=":material/stop:",
        disabled=train_job.stop_requested or train_job.pause_reason is not None,
        on_click=training.request_stop,
        key=state.STOP_BUTTON,
        help="Ends the run within a step and keeps everything it learned.",
    )


def _progress(slot, view: JobView, train_job: state.TrainJob, run: TrainingRun) -> None:
    """The progress bar of the job: waiting in the queue, the epoch in progress, or stopping."""
    target = train_job.target_epochs
    done = min(1.0, run.epochs_done / max(target, 1))
    if view.stopped and run.history:
        last = run.history[-1]
        where = f"during epoch {last.epoch} after {last.examples:,} images"
        where = f"after epoch {last.epoch}" if last.complete else where  # Stop came during its test pass
        slot.progress(done, text=f"Stopped {where}; measuring its test accuracy…")
    elif train_job.stop_requested or train_job.pause_reason:
        slot.progress(done, text="Stopping: finishing the current step…")
    elif view.phase == QUEUED:
        ahead = "yours is next" if view.ahead == 0 else f"{view.ahead} run{'s' * (view.ahead > 1)} ahead of yours"
        slot.progress(done, text=f"Waiting for a free training worker: {ahead}.")
    elif view.progress is None:
        slot.progress(done, text=f"Epoch {run.epochs_done + 1} of {target}: starting…")
    else:
        p = view.progress
        slot.progress(
            min(1.0, ((p.epoch - 1) + p.step / p.steps_per_epoch) / max(target, 1)),
            text=progress_text(run, p.epoch, target, p.examples_per_sec, p.loss),
        )


def _ending(lab_run: state.LabRun) -> None:
    """How the run's training ended (if it ended in this session), the diverged epoch, and Continue."""
    run = lab_run.run
    show_notice(lab_run)
    divergence.draw(run.diverged)  # a diverged run's last epoch, step by step
    if run.can_continue:
        st.button(
            f"Continue {plain(lab_run.name)} to {run.config.epochs} epochs",
            icon=":material/fast_forward:",
            on_click=training.resume,
            args=(lab_run.id,),
            key=state.CONTINUE_BUTTON,
        )


def progress_text(run: TrainingRun, epoch: int, target: int, examples_per_sec: float, loss: float | None) -> str:
    last = run.history[-1] if run.history else None
    parts = [f"Epoch {epoch} of {target}"]
    if loss is not None:
        parts.append(f"loss {loss:.3f}")
    if last is not None:
        parts.append(f"{last.seconds:.2f} s per epoch")
    parts.append(f"{examples_per_sec:,.0f} examples/s")
    return " · ".join(parts)


def draw_history(named_histories, max_epoch: int | None = None, memo: str = "live", run_ids=None) -> None:
    """The loss and accuracy charts side by side.
    The accuracy axis is zoomed to the curves when the Train page's toggle says so."""
    zoom = bool(state.get(state.ACC_ZOOM, True))
    # The charts change only with a new epoch: made once per state of the histories (the panel redraws every tick).
    shape = tuple((name, len(h), h[-1].examples if h else 0) for name, h in named_histories)
    key = (shape, max_epoch, zoom, tuple(run_ids or ()))
    loss, acc = state.memo(
        f"{state.LIVE_MEMO}.{memo}",
        key,
        lambda: charts.history_specs(named_histories, max_epoch, zoom=zoom, run_ids=run_ids),
    )
    c1, c2 = st.columns(2)
    c1.vega_lite_chart(spec=loss, width="stretch")
    c2.vega_lite_chart(spec=acc, width="stretch")


def draw_templates(lab_run: state.LabRun) -> None:
    run = lab_run.run

    def make() -> tuple[bytes, int]:
        grid = pictures.labelled_grid(pictures.signed_images(templates(run.classifier()), factor=3), list(run.classes))
        return pictures.png_bytes(grid), grid.shape[1]

    png, width = state.memo(state.LIVE_MEMO + ".templates", state.model_key(lab_run.id, run), make)
    st.image(png, width=width)


def show_notice(lab_run: state.LabRun) -> None:
    """The final message (finished, stopped, paused, diverged, failed) of `lab_run`, the run shown, if its
    training ended in this session. The notice names its run: another run shown (a checkpoint loaded
    since, say) never gets a previous run's message."""
    notice = st.session_state.get(state.NOTICE)
    if notice is None or notice[0] != lab_run.id:
        return
    kind, text = lab_run.run.summary(notice[1])
    {"success": st.success, "info": st.info, "error": st.error, "warning": st.warning}[kind](text)
