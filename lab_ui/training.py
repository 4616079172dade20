"""Training from the Train page, in bounded chunks.

How a run is trained without ever blocking the app:

* The click on **Train** creates a TrainingRun, adds it to the session's runs and
  records a TrainJob in session state. Nothing trains in the callback.
* The Train page draws `live_panel` as a fragment with ``run_every`` while a job
  is active. Each run of the fragment trains whole epochs for at most
  ``CHUNK_SECONDS`` (one epoch for the CNN, several for softmax), redrawing the
  progress bar during the epoch and the curves after each epoch. Streamlit reruns
  the fragment again and again until the run has its epochs.
* A click on **Stop**, a page switch, any other click or a closed tab makes
  Streamlit interrupt the script at its next ``st.*`` call, which here is a
  progress-bar update inside the epoch. `_Guard` catches that interruption, tells
  the epoch to stop (should_stop), lets TrainingRun record the partial epoch, then
  re-raises it so Streamlit proceeds. So an interrupted epoch is always recorded,
  never lost. The next script run decides what follows: Stop ends the job (its
  on_click), leaving the page pauses it (streamlit_app.py), anything else (the
  sidebar picker, Compare runs) lets it go on.
* With Streamlit's fast reruns that next run starts at once, in another thread,
  while the interrupted one finishes its epoch: `LabRun.busy` and
  `wait_until_idle` make it wait before reading or training the run.
* One session runs one script at a time, and TrainingRun refuses a second loop on
  the same run (RunBusyError): two loops never train the same model.
"""

from __future__ import annotations

import os
import sys
import time

import streamlit as st

from fmnist_lib import Progress, RunBusyError, TrainConfig, TrainingRun
from fmnist_lib.analysis import templates

from . import charts, state
from .labels import MODEL_TITLES, OPTIMIZER_TITLES

CHUNK_SECONDS = 3.0  # train whole epochs until this much time has passed in one fragment run
TICK_SECONDS = 0.1  # how soon the fragment reruns while a job is active
_TIMING = bool(os.environ.get("LAB_TIMING"))  # print per-epoch timings to stderr (for tuning)


def _log(msg: str) -> None:
    if _TIMING:
        print(f"[lab {time.perf_counter():.3f}] {msg}", file=sys.stderr, flush=True)


def start(config: TrainConfig) -> None:
    """on_click of Train: a new run and a job for it (training happens in the fragment)."""
    if state.job() is not None:
        return
    _log("start clicked")
    lab_run = state.add_run(TrainingRun(config))
    st.session_state[state.JOB] = state.TrainJob(lab_run.id, config.epochs, started=time.perf_counter(), start_epochs=0)
    state.set_active(lab_run.id)  # active once it has an epoch; until then the default model is used
    compare = [i for i in state.get(state.COMPARE, []) if state.find_run(i)]
    st.session_state[state.value_key(state.COMPARE)] = (compare + [lab_run.id])[-4:]  # see state.bind_compare
    st.session_state.pop(state.NOTICE, None)


def resume(run_id: int) -> None:
    """on_click of Continue: train a stopped run on to its configured number of epochs."""
    lab_run = state.find_run(run_id)
    if state.job() is not None or lab_run is None:
        return
    st.session_state[state.JOB] = state.TrainJob(
        run_id, lab_run.run.config.epochs, started=time.perf_counter(), start_epochs=lab_run.run.epochs_done
    )
    state.set_active(run_id)
    st.session_state.pop(state.NOTICE, None)


def request_stop() -> None:
    """on_click of Stop. The click itself already interrupted the epoch in progress (see _Guard)."""
    job = state.job()
    if job is not None:
        job.stop_requested = True


def pause_if_running(reason: str) -> None:
    """Called when the user leaves the Train page: the job ends; its history is kept."""
    job = state.job()
    if job is None:
        return
    st.session_state[state.JOB] = None
    lab_run = state.find_run(job.run_id)
    if lab_run is not None:
        lab_run.run.pause(reason)
        st.session_state[state.NOTICE] = (lab_run.id, None)


class _Guard:
    """on_progress/should_stop for one chunk; holds an interruption until the epoch is recorded."""

    def __init__(self, slot, run: TrainingRun, target: int) -> None:
        self.slot = slot
        self.run = run
        self.target = target
        self.pending: BaseException | None = None
        self.epoch_start = time.perf_counter()

    def should_stop(self) -> bool:
        return self.pending is not None

    def on_progress(self, p: Progress) -> None:
        if self.pending is not None:
            return
        elapsed = time.perf_counter() - self.epoch_start
        try:
            self.slot.progress(
                min(1.0, ((p.epoch - 1) + p.step / p.steps_per_epoch) / max(self.target, 1)),
                text=progress_text(self.run, p.epoch, self.target, p.examples / max(elapsed, 1e-9), p.loss),
            )
        except BaseException as e:  # Streamlit's rerun/stop interruption (or any error): finish the epoch first
            _log(f"interrupted at epoch {p.epoch} step {p.step}: {type(e).__name__}")
            self.pending = e

    def reraise(self) -> None:
        if self.pending is not None:
            e, self.pending = self.pending, None
            raise e


def progress_text(run: TrainingRun, epoch: int, target: int, examples_per_sec: float, loss: float | None) -> str:
    last = run.history[-1] if run.history else None
    parts = [f"Epoch {epoch} of {target}"]
    if loss is not None:
        parts.append(f"loss {loss:.3f}")
    if last is not None:
        parts.append(f"{last.seconds:.2f} s per epoch")
    parts.append(f"{examples_per_sec:,.0f} examples/s")
    return " · ".join(parts)


def draw_history(slot, named_histories, max_epoch: int | None = None) -> None:
    """The loss and accuracy charts side by side in `slot` (an st.empty), redrawn in place.
    The accuracy axis is zoomed to the curves when the Train page's toggle says so."""
    loss, acc = charts.history_specs(named_histories, max_epoch, zoom=bool(state.get(state.ACC_ZOOM, True)))
    with slot.container():
        c1, c2 = st.columns(2)
        c1.vega_lite_chart(spec=loss, width="stretch")
        c2.vega_lite_chart(spec=acc, width="stretch")


def draw_templates(slot, run: TrainingRun) -> None:
    if run.kind != "softmax":
        slot.empty()
        return
    maps = templates(run.classifier())
    grid = charts.labelled_grid(charts.signed_images(maps, factor=3), list(run.classes))
    slot.image(grid, width=grid.shape[1])


def show_notice(slot, lab_run: state.LabRun) -> None:
    """The final message (finished, stopped, paused, diverged) of `lab_run`, the run shown, if its
    training ended in this session. The notice names its run: another run shown (a checkpoint
    loaded since, say) never gets a previous run's message."""
    notice = st.session_state.get(state.NOTICE)
    if notice is None or notice[0] != lab_run.id:
        return
    kind, text = lab_run.run.summary(notice[1])
    {"success": slot.success, "info": slot.info, "error": slot.error, "warning": slot.warning}[kind](text)


def wait_until_idle(lab_run: state.LabRun, timeout: float = 120.0) -> None:
    """Wait while an earlier script run of this session finishes an interrupted epoch of this run.

    Streamlit starts a new script run at once on a click or page switch and stops the old
    one at its next st.* call; the old one then ends its epoch, records it and measures the
    test accuracy (a moment for softmax, a few seconds for the CNN). Reading the history
    before that would miss the interrupted epoch.
    """
    if not lab_run.busy:
        return
    _log("waiting for the earlier run to finish its epoch")
    with st.spinner("Stopping: finishing the current step and measuring the test accuracy…"):
        deadline = time.perf_counter() + timeout
        while lab_run.busy and time.perf_counter() < deadline:
            time.sleep(0.05)


def run_job_chunk(data, progress_slot, chart_slot, template_slot) -> None:
    """Train one chunk of the active job and redraw; finish the job when the run is done."""
    job = state.job()
    if job is None:
        return
    lab_run = state.find_run(job.run_id)
    if lab_run is None:
        st.session_state[state.JOB] = None
        return
    run = lab_run.run
    wait_until_idle(lab_run)
    chunk_start = time.perf_counter()
    _log(f"chunk start, epochs done {run.epochs_done}")
    while not job.stop_requested and run.epochs_done < job.target_epochs:
        guard = _Guard(progress_slot, run, job.target_epochs)
        lab_run.busy = True
        try:
            stats = run.train_one_epoch(data, on_progress=guard.on_progress, should_stop=guard.should_stop)
        except RunBusyError:  # an earlier script run still holds it (should not happen: we waited)
            st.warning("This model is still being trained by an earlier run of the page; trying again shortly.")
            return
        finally:
            lab_run.busy = False
        # Interrupted (Stop, a page switch, any other click): the part-epoch is recorded; the next
        # script run decides: Stop ends the job, leaving the page pauses it, anything else goes on.
        guard.reraise()
        _log(f"epoch {run.epochs_done} trained in {stats.seconds if stats else 0:.3f} s")
        if stats is not None:
            progress_slot.progress(
                min(1.0, run.epochs_done / job.target_epochs),
                text=progress_text(run, run.epochs_done, job.target_epochs, stats.examples_per_sec, stats.train_loss),
            )
            draw_history(chart_slot, [(lab_run.name, run.history)], job.target_epochs)
            draw_templates(template_slot, run)
            _log("redrawn")
        if stats is None or not stats.complete or run.epochs_done >= job.target_epochs:
            break
        if time.perf_counter() - chunk_start > CHUNK_SECONDS:
            return  # the fragment reruns soon (run_every) and trains the next chunk
    # Done: finished, stopped or diverged.
    st.session_state[state.JOB] = None
    if job.stop_requested or run.status == "running":
        run.stop()
    stretch = (run.epochs_done - job.start_epochs, time.perf_counter() - job.started)
    st.session_state[state.NOTICE] = (lab_run.id, stretch)
    show_notice(progress_slot, lab_run)  # at once, in place of the progress bar; the full rerun keeps it there
    _log("job done, full rerun")
    st.rerun(scope="app")  # the whole page: controls enabled again, the run list


def describe_config(c: TrainConfig) -> str:
    return (
        f"{MODEL_TITLES[c.model]} · {OPTIMIZER_TITLES[c.optimizer]} · lr {c.lr:g} · {c.epochs} epochs · "
        f"batch {c.batch_size} · weight decay {c.weight_decay:g} · {c.schedule} schedule · seed {c.seed}"
        + (f" · augmentation {c.augment}" if c.augment != "off" else "")
    )
