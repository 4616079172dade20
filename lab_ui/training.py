"""Training from the Train page: runs train in the server's worker processes; the page only reads them.

* **Train** (on_click) makes a TrainingRun, adds it to the session's runs and submits its snapshot
  to the server's pool (resources.pool, fmnist_lib.jobs); the session's TrainJob keeps the job.
  **Continue** submits a stopped run again. Jobs beyond the workers wait in the pool's queue.
* `sync` brings the session's run up to date with its job: the run takes the job's latest
  snapshot (weights, history, status: TrainingRun.restore) and, once the job is over, its ending:
  finished, stopped, paused, diverged, or failed when its worker died. The Train page's live panel
  (live.py) calls it every progress_tick() while a job is on, and every script run (layout.run_app)
  calls it too, so a job that ended while the user was on another page is taken in there.
* **Stop** and leaving the page ask the worker to end within a step; it records the part-epoch
  and sends it back with the job's last snapshot. Nothing here trains or waits in the script thread.
"""

from __future__ import annotations

import json
import os
import threading
import time

import streamlit as st

from fmnist_lib import TrainConfig, TrainingRun
from fmnist_lib.jobs import DONE, JobView

from . import persist, resources, state

TICK_SECONDS = 1.0  # how often the live panel reads its job: a redraw a second keeps a class's browsers light
# A file to which each job that ends appends one JSON line: where its time and the server's CPU went
# (bench/bench_classroom.py sets it; unset, nothing is written).
JOB_LOG_ENV = "FMNIST_JOB_LOG"
_job_log_lock = threading.Lock()
STOP_TICK_SECONDS = 0.25  # while stopping: the end is shown within a quarter second of the worker's news
# How often the live panel's progress bar reads a softmax job (its epochs take 0.1-0.3 s): see progress_tick.
FAST_TICK_SECONDS = 0.25
# The worker sees Stop before its next step (milliseconds): Stop's click waits at most this long for it, so
# the rerun the click causes already shows the run stopped (and, for softmax, its final message: its
# part-epoch's test pass takes ~10 ms; the CNN's 0.6 s or more is not waited for, its bar says "Stopped" first).
STOP_WAIT_SECONDS = (0.4, 0.1)  # (for the stop, then, softmax only, for the end of the part-epoch's test pass)


def progress_tick(train_job: state.TrainJob | None) -> float:
    """Seconds between the live progress bar's reads of its job: a quarter second while a run stops or
    softmax trains (an epoch in 0.1-0.3 s), else TICK_SECONDS (the CNN's epochs take 10-70 s: a bar a second
    is a fraction of an epoch behind). The bar's rerun is small (no charts): ~4 a second for a few seconds."""
    if train_job is None:
        return TICK_SECONDS
    if train_job.stop_requested or train_job.pause_reason is not None:
        return STOP_TICK_SECONDS
    lab_run = state.find_run(train_job.run_id)
    return FAST_TICK_SECONDS if lab_run is not None and lab_run.run.kind == "softmax" else TICK_SECONDS


def start(config: TrainConfig) -> None:
    """on_click of Train: a new run, and a job for it in the pool."""
    if state.job() is not None or not state.room_for_a_run():
        return  # full of kept runs: the page says so beside the disabled Train button
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
    train_job = state.TrainJob(
        lab_run.id, target_epochs, job, started=time.perf_counter(), start_epochs=lab_run.run.epochs_done
    )
    st.session_state[state.JOB] = train_job
    st.session_state.pop(state.NOTICE, None)
    persist.track(train_job, finish)  # a reload finds it again; a tab gone for good stops it


def request_stop() -> None:
    """on_click of Stop: the worker ends the epoch within a step and records it."""
    train_job = state.job()
    if train_job is not None:
        train_job.stop_requested = True
        train_job.job.stop()
        lab_run = state.find_run(train_job.run_id)
        stopped = train_job.job.wait_stopped(STOP_WAIT_SECONDS[0])
        if stopped.phase != DONE and lab_run is not None and lab_run.run.kind == "softmax":
            train_job.job.wait_done(STOP_WAIT_SECONDS[1])


def pause_if_running(reason: str) -> None:
    """Called when the user leaves the Train page: the job ends as with Stop, and the run says why."""
    train_job = state.job()
    if train_job is not None and train_job.pause_reason is None:
        train_job.pause_reason = reason
        train_job.job.stop()
    sync()


def finish(run: TrainingRun, view: JobView, train_job: state.TrainJob) -> None:
    """The job is over: how it ended is the run's to record (plain Python: also called from the pool's thread)."""
    if view.error is not None:
        run.fail(view.error)
    elif train_job.pause_reason is not None:
        run.pause(train_job.pause_reason)
    elif train_job.stop_requested or run.status == "running":
        run.stop()


def sync() -> JobView | None:
    """Bring the session's run up to date with its job; end the session's job once the pool is done with it.

    Returns the job's view (None without a job), for the live panel to draw.
    """
    train_job = state.job()
    if train_job is None:
        return None
    view = train_job.job.view()
    train_job.connection = persist.connection() or train_job.connection  # a reconnect's new connection
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
    finish(run, view, train_job)
    st.session_state[state.JOB] = None
    stretch = (run.epochs_done - train_job.start_epochs, time.perf_counter() - train_job.started)
    st.session_state[state.NOTICE] = (lab_run.id, stretch)
    _log_job(train_job, view, run, stretch[1])
    return view


def note_rerun(cpu_s: float) -> None:
    """Count one live-panel rerun and its CPU seconds against the session's job (if one is on)."""
    train_job = state.job()
    if train_job is not None:
        train_job.reruns += 1
        train_job.rerun_cpu_s += cpu_s


def _log_job(train_job: state.TrainJob, view: JobView, run: TrainingRun, live_s: float) -> None:
    """One JSON line in $FMNIST_JOB_LOG for an ended job: queue wait, training, worker and page CPU."""
    path = os.environ.get(JOB_LOG_ENV)
    if not path:
        return
    started = view.started_at if view.started_at is not None else view.finished_at
    record = {
        "model": run.kind,
        "epochs": run.epochs_done - train_job.start_epochs,
        "test_acc": run.test_acc,
        "queued_s": (started or view.queued_at) - view.queued_at,
        "trained_s": (view.finished_at or started or view.queued_at) - (started or view.queued_at),
        "worker_cpu_s": view.worker_cpu_s,
        "reruns": train_job.reruns,
        "rerun_cpu_s": train_job.rerun_cpu_s,
        "live_s": live_s,  # from the click on Train to this script run, which takes the job's end in
        "ended": time.time(),
    }
    with _job_log_lock, open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
