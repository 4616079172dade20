"""lab_ui/training.py: a session's run follows its job in the pool, and takes how the job ended.

A dict as session state and a pool that trains in a thread on tiny data: no script run, no Streamlit."""

from __future__ import annotations

import pytest

from fmnist_lib import TrainingRun, default_config
from fmnist_lib.jobs import TrainingPool
from lab_ui import resources, state, training
from tests.support.data import make_tiny_data


def tiny_data():
    return make_tiny_data(n_train=512, n_test=64)


@pytest.fixture
def pool(monkeypatch):
    p = TrainingPool(0, tiny_data)
    monkeypatch.setattr(resources, "pool", lambda: p)
    yield p
    p.close()


def wait_for_end(train_job) -> None:
    train_job.job.wait_done(timeout=60)
    training.sync()


def test_train_adds_a_run_and_its_job_and_sync_brings_the_finished_run_home(session_state, pool):
    training.start(default_config("softmax", epochs=2, batch_size=64))
    train_job = state.job()
    (lab_run,) = state.runs()
    assert train_job.run_id == lab_run.id and state.active_id() == lab_run.id
    training.start(default_config("softmax"))
    assert len(state.runs()) == 1, "one job per session"
    wait_for_end(train_job)
    assert state.job() is None
    assert lab_run.run.status == "finished" and lab_run.run.epochs_done == 2
    assert session_state[state.NOTICE][0] == lab_run.id and session_state[state.NOTICE][1][0] == 2


def test_stop_ends_the_job_and_the_run_is_stopped_with_what_it_learned(session_state, pool):
    training.start(default_config("softmax", epochs=50, batch_size=1, lr=0.01))
    train_job = state.job()
    view = train_job.job.wait(-1, timeout=30)
    while view.progress is None:
        view = train_job.job.wait(view.version, timeout=30)
    training.request_stop()
    wait_for_end(train_job)
    run = state.runs()[0].run
    assert run.status == "stopped" and run.epochs_done == 1 and not run.history[-1].complete
    assert run.summary()[1].startswith("Stopped part-way through its first epoch in ")


def test_leaving_the_page_pauses_the_run_and_says_why(session_state, pool):
    training.start(default_config("softmax", epochs=50, batch_size=1, lr=0.01))
    train_job = state.job()
    training.pause_if_running("you left the Train page")
    wait_for_end(train_job)
    run = state.runs()[0].run
    assert run.status == "stopped" and run.paused_because == "you left the Train page"
    assert run.can_continue


def test_a_failed_job_fails_the_run_with_its_reason(session_state, pool):
    lab_run = state.add_run(TrainingRun(default_config("softmax", epochs=1)))

    class DeadJob:
        def view(self):
            from fmnist_lib.jobs import DONE, JobView

            return JobView(DONE, 0, None, None, 3, "The training worker stopped unexpectedly (killed by signal 9).")

        def stop(self):
            pass

    session_state[state.JOB] = state.TrainJob(lab_run.id, 1, DeadJob())
    training.sync()
    assert state.job() is None
    assert lab_run.run.status == "failed" and lab_run.run.summary()[0] == "error"
    assert "signal 9" in lab_run.run.summary()[1]


def test_a_run_dropped_from_the_session_stops_its_job(session_state, pool):
    training.start(default_config("softmax", epochs=50, batch_size=1, lr=0.01))
    train_job = state.job()
    session_state[state.RUNS] = []
    assert training.sync() is None and state.job() is None
    assert train_job.job.wait_done(timeout=30).phase == "done"


def test_an_ended_job_is_logged_with_its_wait_training_and_cpu_when_asked(session_state, pool, tmp_path, monkeypatch):
    import json

    log = tmp_path / "jobs.jsonl"
    monkeypatch.setenv(training.JOB_LOG_ENV, str(log))
    training.start(default_config("softmax", epochs=2, batch_size=64))
    train_job = state.job()
    training.note_rerun(0.01)  # the live panel counts each of its reruns
    training.note_rerun(0.02)
    wait_for_end(train_job)
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["model"] == "softmax" and record["epochs"] == 2
    assert record["reruns"] == 2 and record["rerun_cpu_s"] == pytest.approx(0.03)
    assert record["queued_s"] >= 0 and record["trained_s"] > 0 and record["worker_cpu_s"] > 0
    training.note_rerun(0.5)  # no job: nothing to count against
    monkeypatch.delenv(training.JOB_LOG_ENV)
    training.start(default_config("softmax", epochs=1, batch_size=64))
    wait_for_end(state.job())
    assert len(log.read_text().splitlines()) == 1, "unset: nothing written"


def test_the_progress_bar_reads_softmax_and_a_stopping_run_four_times_as_often_as_the_cnn(session_state):
    """A softmax epoch takes 0.1-0.3 s: read once a second, the bar was up to 9 epochs behind at a Stop."""
    assert training.progress_tick(None) == training.TICK_SECONDS
    soft = state.add_run(TrainingRun(default_config("softmax")))
    cnn = state.add_run(TrainingRun(default_config("cnn")))
    assert training.progress_tick(state.TrainJob(soft.id, 1)) == training.FAST_TICK_SECONDS < training.TICK_SECONDS
    cnn_job = state.TrainJob(cnn.id, 1)
    assert training.progress_tick(cnn_job) == training.TICK_SECONDS
    cnn_job.stop_requested = True
    assert training.progress_tick(cnn_job) == training.STOP_TICK_SECONDS < training.TICK_SECONDS


def test_stops_click_waits_for_softmaxs_final_message_but_not_for_the_cnns_test_pass(session_state):
    """After the worker has stopped, softmax's part-epoch is measured in ~10 ms: the click waits for it and shows
    the final message. The CNN's pass takes 0.6 s or more: the click returns and the bar says "Stopped"."""
    from types import SimpleNamespace

    class StoppedJob:
        def __init__(self):
            self.waited_done = []

        def stop(self):
            pass

        def wait_stopped(self, timeout):
            return SimpleNamespace(phase="running")  # stopped, its test pass under way

        def wait_done(self, timeout):
            self.waited_done.append(timeout)

    for kind, waits in (("softmax", True), ("cnn", False)):
        lab_run = state.add_run(TrainingRun(default_config(kind)))
        job = StoppedJob()
        session_state[state.JOB] = state.TrainJob(lab_run.id, 1, job)
        training.request_stop()
        assert bool(job.waited_done) == waits, kind
