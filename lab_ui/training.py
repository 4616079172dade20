"""Training from the Train page: runs train in the server's worker processes; the page only reads them.

* **Train** (on_click) makes a TrainingRun, adds it to the session's runs and submits its snapshot
  to the server's pool (resources.pool, fmnist_lib.jobs); the session's TrainJob keeps the job.
  **Continue** submits a stopped run again. Jobs beyond the workers wait in the pool's queue.
* `sync` brings the session's run up to date with its job: the run takes the job's latest
  snapshot (weights, history, status: TrainingRun.restore) and, once the job is over, its ending:
  finished, stopped, paused, diverged, or failed when its worker died. The Train page's live panel
  (live.py) calls it every TICK_SECONDS while a job is on, and every script run (layout.run_app)
  calls it too, so a job that ended while the user was on another page is taken in there.
* **Stop** and leaving the page ask the worker to end within a step; it records the part-epoch
  and sends it back with the job's last snapshot. Nothing here trains or waits in the script thread.
"""

from __future__ import annotations

import time

import streamlit as st

from fmnist_lib import TrainConfig, TrainingRun
from fmnist_lib.jobs import DONE, JobView

from . import resources, state

TICK_SECONDS = 1.0  # how often the live panel reads its job: a redraw a second keeps a class's browsers light
STOP_TICK_SECONDS = 0.25  # while stopping: the end is shown within a quarter second of the worker's news
# The worker sees Stop before its next step (milliseconds): Stop's click waits at most this long for it, so
# the rerun the click causes already shows the run stopped (and, for softmax, its final message).
STOP_WAIT_SECONDS = (0.4, 0.1)  # (for the stop, then for the end of the part-epoch's test pass)


def start(config: TrainConfig) -> None:
    """on_click of Train: a new run, and a job for it in the pool."""
    if state.job() is not None:
        return
    lab_run = state.add_run(TrainingRun(config))
    _submit(lab_run, config.epochs)
    state.set_active(lab_run.id)  # active once it has an epoch; until then the default model is used
    compare = [i for i in state.get(state.COMPARE, []) if state.find_run(i)]
    st.session_state[state.value_key(state.COMPARE)] = (compare + [lab_run.id])[-4:]  # see state.bind_compare


def resume(run_id: int) -> None:
    """on_click of Continue: train a stopped run on to its configured number of epochs."""
    lab_run = state.find_run(run_id)
    if state.job() is not None or lab_run is None:
        return
    _submit(lab_run, lab_run.run.config.epochs)
    state.set_active(run_id)


def _submit(lab_run: state.LabRun, target_epochs: int) -> None:
    job = resources.pool().submit(lab_run.run.snapshot(), target_epochs)
    st.session_state[state.JOB] = state.TrainJob(
        lab_run.id, target_epochs, job, started=time.perf_counter(), start_epochs=lab_run.run.epochs_done
    )
    st.session_state.pop(state.NOTICE, None)


def request_stop() -> None:
    """on_click of Stop: the worker ends the epoch within a step and records it."""
    train_job = state.job()
    if train_job is not None:
        train_job.stop_requested = True
        train_job.job.stop()
        if train_job.job.wait_stopped(STOP_WAIT_SECONDS[0]).phase != DONE:
            train_job.job.wait_done(STOP_WAIT_SECONDS[1])


def pause_if_running(reason: str) -> None:
    """Called when the user leaves the Train page: the job ends as with Stop, and the run says why."""
    train_job = state.job()
    if train_job is not None and train_job.pause_reason is None:
        train_job.pause_reason = reason
        train_job.job.stop()
    sync()


def sync() -> JobView | None:
    """Bring the session's run up to date with its job; end the session's job once the pool is done with it.

    Returns the job's view (None without a job), for the live panel to draw.
    """
    train_job = state.job()
    if train_job is None:
        return None
    view = train_job.job.view()
    lab_run = state.find_run(train_job.run_id)
    if lab_run is None:  # dropped from the session: nobody will look at it
        train_job.job.stop()
        st.session_state[state.JOB] = None
        return None
    run = lab_run.run
    if view.snapshot is not None and view.snapshot is not train_job.taken:
        run.restore(view.snapshot)
        train_job.taken = view.snapshot
    if view.phase != DONE:
        return view
    # The job is over: how it ended is the run's to record.
    if view.error is not None:
        run.fail(view.error)
    elif train_job.pause_reason is not None:
        run.pause(train_job.pause_reason)
    elif train_job.stop_requested or run.status == "running":
        run.stop()
    st.session_state[state.JOB] = None
    stretch = (run.epochs_done - train_job.start_epochs, time.perf_counter() - train_job.started)
    st.session_state[state.NOTICE] = (lab_run.id, stretch)
    return view
