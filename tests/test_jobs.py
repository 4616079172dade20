"""fmnist_lib.jobs: training in worker processes; same seed, same run under any concurrency.

Tiny data only: each worker gets it from `tiny_data`, a module-level function it can import.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest
import torch

from fmnist_lib import TrainingRun, default_config, jobs
from fmnist_lib.jobs import DONE, QUEUED, RUNNING, TrainingPool, default_workers
from tests.support.data import make_tiny_data


def tiny_data():
    return make_tiny_data(n_train=512, n_test=64)


def slow_config(**kw):
    """Batches of one example: an epoch is 512 steps, long enough to stop or kill part-way."""
    return default_config("softmax", batch_size=1, lr=0.01, **kw)


def learned(run_or_snapshot) -> tuple[list[torch.Tensor], list[tuple]]:
    """(weights, history without its timings): what must be equal bit for bit between two runs."""
    run = TrainingRun.from_snapshot(run_or_snapshot) if isinstance(run_or_snapshot, dict) else run_or_snapshot
    weights = [t.clone() for t in run.model.state_dict().values()]
    history = [(e.epoch, e.train_loss, e.train_acc, e.test_acc, e.examples, e.complete, e.lr) for e in run.history]
    return weights, history


def assert_same(a, b) -> None:
    (wa, ha), (wb, hb) = a, b
    assert ha == hb
    assert all(torch.equal(x, y) for x, y in zip(wa, wb, strict=True))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread here, as in a worker and the app: more threads sum in another order
    (equal to ~1e-8, not bit for bit)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def alone(config) -> TrainingRun:
    run = TrainingRun(config)
    run.fit(tiny_data())
    return run


@pytest.fixture(scope="module")
def pool():
    p = TrainingPool(2, tiny_data)
    yield p
    p.close()


def test_default_workers_follow_the_cores_or_the_environment(monkeypatch):
    monkeypatch.delenv("FMNIST_WORKERS", raising=False)
    monkeypatch.setattr(jobs, "memory_limit", lambda: None)
    assert default_workers() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("FMNIST_WORKERS", "3")
    assert default_workers() == 3


def test_a_small_memory_limit_means_fewer_workers_or_none(monkeypatch):
    """Community Cloud's smallest apps (690 MB) train in a thread; 2.7 GB holds a worker per core."""
    monkeypatch.delenv("FMNIST_WORKERS", raising=False)
    cores = len(os.sched_getaffinity(0))
    assert default_workers(limit=690 * 2**20) == 0
    assert default_workers(limit=1300 * 2**20) == min(cores, 1)
    assert default_workers(limit=2700 * 2**20) == min(cores, 5)
    monkeypatch.setenv("FMNIST_WORKERS", "2")
    assert default_workers(limit=690 * 2**20) == 2, "the administrator's word wins"


@pytest.mark.parametrize("model", ["softmax", "cnn"])
def test_concurrent_threads_with_one_seed_give_one_run(model):
    """Runs built and trained at once in threads, while another thread keeps reseeding torch's
    global generator: every run equals the run trained alone, bit for bit."""
    config = default_config(model, epochs=2 if model == "softmax" else 1, batch_size=64, seed=5)
    reference = learned(alone(config))
    data = tiny_data()
    results, stop = [None] * 4, threading.Event()

    def meddle():
        while not stop.is_set():
            torch.manual_seed(int(time.perf_counter_ns() % 1000))
            torch.rand(100)

    def train(i):
        run = TrainingRun(config)
        run.fit(data)
        results[i] = learned(run)

    meddler = threading.Thread(target=meddle)
    meddler.start()
    threads = [threading.Thread(target=train, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    meddler.join()
    for r in results:
        assert_same(r, reference)


def test_concurrent_jobs_in_processes_with_one_seed_give_the_run_alone(pool):
    config = default_config("softmax", epochs=3, batch_size=32, seed=3)
    reference = learned(alone(config))
    jobs = [pool.submit(TrainingRun(config).snapshot(), 3) for _ in range(4)]
    for job in jobs:
        view = job.wait_done(timeout=60)
        assert view.phase == DONE and view.error is None
        assert view.snapshot["status"] == "finished"
        assert_same(learned(view.snapshot), reference)


def test_progress_and_a_snapshot_after_each_epoch_reach_the_caller(pool):
    run = TrainingRun(default_config("softmax", epochs=3, batch_size=8))
    job = pool.submit(run.snapshot(), 3)
    epochs_seen, progress_seen, version = set(), 0, -1
    while True:
        view = job.wait(version, timeout=30)
        version = view.version
        if view.progress is not None:
            progress_seen += 1
            assert view.progress.steps_per_epoch == 64 and view.progress.examples_per_sec > 0
        if view.snapshot is not None:
            epochs_seen.add(len(view.snapshot["history"]))
        if view.phase == DONE:
            break
    assert epochs_seen == {1, 2, 3} or epochs_seen >= {3}  # a reader may miss an epoch, never the last
    assert progress_seen >= 1
    run.restore(view.snapshot)
    assert run.status == "finished" and run.epochs_done == 3


def _stop_mid_epoch(pool):
    """A long job, stopped once its first epoch is under way (its progress has been reported)."""
    job = pool.submit(TrainingRun(slow_config(epochs=50)).snapshot(), 50)
    view = job.wait(-1, timeout=30)
    while view.progress is None and view.phase != DONE:
        view = job.wait(view.version, timeout=30)
    job.stop()
    return job


def test_stop_ends_the_epoch_in_progress_and_keeps_it(pool):
    job = _stop_mid_epoch(pool)
    view = job.wait_done(timeout=30)
    assert view.phase == DONE and view.error is None
    history = view.snapshot["history"]
    assert history and not history[-1]["complete"] and 0 < history[-1]["examples"] < 512
    assert history[-1]["test_acc"] is not None, "a part-epoch is evaluated"


def test_jobs_beyond_the_workers_wait_in_order_and_say_how_many_are_ahead():
    pool = TrainingPool(1, tiny_data)
    try:
        first = pool.submit(TrainingRun(slow_config(epochs=50)).snapshot(), 50)
        waiting = [pool.submit(TrainingRun(default_config("softmax", epochs=1)).snapshot(), 1) for _ in range(3)]
        assert first.view().phase == RUNNING
        assert [(j.view().phase, j.view().ahead) for j in waiting] == [(QUEUED, 0), (QUEUED, 1), (QUEUED, 2)]
        waiting[0].stop()  # a queued job leaves the queue at once; the others move up
        assert waiting[0].view().phase == DONE and waiting[0].view().snapshot is None
        assert [j.view().ahead for j in waiting[1:]] == [0, 1]
        first.stop()
        for j in waiting[1:]:
            assert j.wait_done(timeout=30).snapshot["status"] == "finished"
    finally:
        pool.close()


def test_a_killed_worker_fails_only_its_job_and_the_pool_recovers():
    pool = TrainingPool(2, tiny_data)
    try:
        victim = pool.submit(TrainingRun(slow_config(epochs=50)).snapshot(), 50)
        other = pool.submit(TrainingRun(slow_config(epochs=3)).snapshot(), 3)
        view = victim.wait(-1, timeout=30)
        while view.progress is None:
            view = victim.wait(view.version, timeout=30)
        pids = pool.worker_pids()
        # The victim went to the first idle slot: the first worker.
        os.kill(pids[0], signal.SIGKILL)
        view = victim.wait_done(timeout=30)
        assert view.error is not None and "stopped unexpectedly" in view.error and "signal 9" in view.error
        assert other.wait_done(timeout=60).snapshot["status"] == "finished", "the other job goes on"
        assert pool.restarts == 1 and pids[0] not in pool.worker_pids() and len(pool.worker_pids()) == 2
        after = pool.submit(TrainingRun(default_config("softmax", epochs=1)).snapshot(), 1).wait_done(timeout=60)
        assert after.error is None and after.snapshot["status"] == "finished"
    finally:
        pool.close()


def test_without_worker_processes_jobs_train_in_a_thread_the_same_way():
    config = default_config("softmax", epochs=2, batch_size=32, seed=1)
    pool = TrainingPool(0, tiny_data)
    try:
        assert pool.worker_pids() == []
        view = pool.submit(TrainingRun(config).snapshot(), 2).wait_done(timeout=60)
        assert_same(learned(view.snapshot), learned(alone(config)))
    finally:
        pool.close()


def test_a_worker_without_data_fails_each_job_with_the_reason():
    pool = TrainingPool(1, _no_data)
    try:
        view = pool.submit(TrainingRun(default_config("softmax", epochs=1)).snapshot(), 1).wait_done(timeout=60)
        assert view.error is not None and "could not load the data set" in view.error
    finally:
        pool.close()


def _no_data():
    raise FileNotFoundError("no Fashion-MNIST here")


def test_a_job_nobody_reads_is_stopped_and_keeps_what_it_learned():
    """A closed browser tab reads its job no more: the pool stops it rather than train for nobody."""
    pool = TrainingPool(1, tiny_data, abandon_after=1.0)
    try:
        job = pool.submit(TrainingRun(slow_config(epochs=50)).snapshot(), 50)
        view = job.wait(-1, timeout=30)
        # On a loaded machine the worker may start after the lease ran out: then the job ends unstarted.
        while view.progress is None and view.phase != DONE:
            view = job.wait(view.version, timeout=30)
        with job._cond:  # wait without reading: view() would renew the lease
            job._cond.wait_for(lambda: job._phase == DONE, timeout=30)
        view = job.view()
        assert view.phase == DONE and view.error is None
        assert view.snapshot["status"] == "stopped" and len(view.snapshot["history"]) < 50
    finally:
        pool.close()


def test_a_job_whose_session_is_gone_is_stopped_at_the_next_check():
    """keep_alive False (no key, its browser's connection closed): stopped within a check, not minutes."""
    pool = TrainingPool(1, tiny_data, abandon_after=600.0)
    try:
        job = pool.submit(TrainingRun(slow_config(epochs=50)).snapshot(), 50)
        gone = threading.Event()
        job.keep_alive = lambda: not gone.is_set()
        view = job.wait(-1, timeout=30)
        while view.progress is None:
            view = job.wait(view.version, timeout=30)
        gone.set()
        view = job.wait_done(timeout=30)  # the 600 s staleness rule would never end it within this
        assert view.phase == DONE and view.snapshot["status"] == "stopped" and len(view.snapshot["history"]) < 50
    finally:
        pool.close()


def test_a_job_whose_session_can_come_back_finishes_unread_and_reports_its_result():
    """keep_alive True (its session has a stored key): nobody reads it, it trains on to the end."""
    pool = TrainingPool(1, tiny_data, abandon_after=0.2)
    try:
        job = pool.submit(TrainingRun(default_config("softmax", batch_size=64, epochs=3)).snapshot(), 3)
        job.keep_alive = lambda: True
        results = []
        job.on_done(results.append)
        with job._cond:  # wait without reading: view() would renew the lease
            job._cond.wait_for(lambda: job._phase == DONE, timeout=60)
        deadline = time.monotonic() + 10
        while not results and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(results) == 1 and results[0].phase == DONE
        assert results[0].snapshot["status"] == "finished" and len(results[0].snapshot["history"]) == 3
        late = []
        job.on_done(late.append)  # registered after the end: called at once
        assert late and late[0].snapshot is results[0].snapshot
    finally:
        pool.close()


def test_the_pool_names_the_worker_of_a_running_job(pool):
    job = pool.submit(TrainingRun(slow_config(epochs=50)).snapshot(), 50)
    try:
        view = job.wait(-1, timeout=30)
        while view.phase != RUNNING:
            view = job.wait(view.version, timeout=30)
        assert pool.worker_pid(job) in pool.worker_pids()
    finally:
        job.stop()
    job.wait_done(timeout=30)
    assert pool.worker_pid(job) is None


def test_a_job_records_its_wait_its_training_and_its_workers_cpu(pool):
    job = pool.submit(TrainingRun(default_config("softmax", epochs=1)).snapshot(), 1)
    view = job.wait_done(timeout=120)
    assert view.phase == DONE and view.error is None
    assert view.queued_at <= view.started_at <= view.finished_at <= time.monotonic()
    assert view.worker_cpu_s is not None and view.worker_cpu_s > 0


def test_snapshots_travel_by_value_not_through_shared_memory(pool):
    """The pool's pipes pickle tensors by value: multiprocessing's pickler moved each into shared memory and
    passed its descriptor over a socket with a handshake per tensor, most of the pool's own CPU (issue 25)."""
    job = pool.submit(TrainingRun(default_config("softmax", epochs=2)).snapshot(), 2)
    view = job.wait_done(timeout=120)
    assert view.error is None
    tensors = [*view.snapshot["state_dict"].values(), view.snapshot["generator"]]
    assert not any(t.is_shared() for t in tensors)
    assert_same(learned(view.snapshot), learned(alone(default_config("softmax", epochs=2))))


def test_a_worker_sets_each_jobs_torch_threads_by_the_policy_within_its_share(monkeypatch):
    """The worker loop run here in a thread, as a worker process of a pool of 2 runs it: each job applies the
    thread policy for its model and the worker's share of the cores (torch's count is per OS thread here, so
    the call is what is checked), then reports its CPU seconds before it is done."""
    applied = []
    monkeypatch.setattr(jobs.thread_policy, "apply", lambda model, sharing: applied.append((model, sharing)))
    server, worker = multiprocessing.Pipe()
    loop = threading.Thread(target=jobs._worker, args=(worker, threading.Event(), tiny_data, 2), daemon=True)
    loop.start()
    kinds = []
    for job_id, model in ((7, "softmax"), (8, "cnn")):
        server.send((job_id, TrainingRun(default_config(model, epochs=1, batch_size=64)).snapshot(), 1))
        while not kinds or kinds[-1] not in ("done", "error"):
            kind, _, payload = server.recv()
            kinds.append(kind)
            if kind == "cpu":
                assert payload > 0
        assert kinds[-2:] == ["cpu", "done"]
        kinds.clear()
    server.send(None)
    loop.join(timeout=30)
    assert applied == [("softmax", 2), ("cnn", 2)]


def test_a_worker_sends_progress_at_most_every_progress_seconds():
    """Progress every 25 steps was 60 messages a second for softmax, which the page reads once a second: each cost
    the worker and the server's pool thread CPU (issue 25). Two epochs of 512 one-example steps (40 progress calls)
    in a thread, as a worker process runs them: the first is sent, then one per PROGRESS_SECONDS at most, and each
    epoch's last step."""
    server, worker = multiprocessing.Pipe()
    loop = threading.Thread(target=jobs._worker, args=(worker, threading.Event(), tiny_data, 0), daemon=True)
    loop.start()
    t0 = time.perf_counter()
    server.send((1, TrainingRun(slow_config(epochs=2)).snapshot(), 2))
    kinds = []
    while not kinds or kinds[-1] not in ("done", "error"):
        kinds.append(server.recv()[0])
    elapsed = time.perf_counter() - t0
    server.send(None)
    loop.join(timeout=30)
    assert kinds[-1] == "done"
    assert 1 <= kinds.count("progress") <= 1 + 2 + elapsed / jobs.PROGRESS_SECONDS


@pytest.mark.parametrize(("sharing", "calls"), [(2, 1), (0, 0)])
def test_a_worker_process_keeps_its_batches_memory_and_a_server_thread_leaves_the_servers_alone(
    monkeypatch, sharing, calls
):
    """A worker process fixes its malloc thresholds before it loads the data (fmnist_lib.heap: glibc gave each test
    pass's batches back and faulted them in again, issue 25); workers=0 trains in the server, whose heap is not
    the worker's to set. The worker loop runs here in a thread, as a process of a pool of `sharing` runs it."""
    called = []
    monkeypatch.setattr(jobs.heap, "keep_freed_memory", lambda: called.append(True) or True)
    server, worker = multiprocessing.Pipe()
    loop = threading.Thread(target=jobs._worker, args=(worker, threading.Event(), tiny_data, sharing), daemon=True)
    loop.start()
    server.send(None)
    loop.join(timeout=30)
    assert len(called) == calls


class _ScriptedConn:
    """The worker's end of its pipe, played by the test: one job, then the end. The first progress message
    sets the stop flag from inside the worker's own step, so where it stops is counted in steps, not seconds."""

    def __init__(self, job, stop) -> None:
        self.inbox, self.sent, self.stop = [job, None], [], stop

    def recv(self):
        return self.inbox.pop(0)

    def send(self, msg) -> None:
        if msg[0] == "progress" and not self.stop.is_set():
            self.stop.set()
        self.sent.append(msg)


def test_a_stopped_job_ends_at_the_next_step_and_says_so_before_measuring_the_part_epoch():
    """Stop is seen before the very next step; the worker sends the part-epoch ("stopped") first and
    only then spends the test pass (seconds for the CNN) before "done"."""
    stop = threading.Event()
    run = TrainingRun(slow_config(epochs=50))
    conn = _ScriptedConn((7, run.snapshot(), 50), stop)
    jobs._worker(conn, stop, tiny_data, sharing=0)
    kinds = [m[0] for m in conn.sent]
    assert kinds[-3:] == ["stopped", "cpu", "done"] and "epoch" not in kinds  # "cpu": the job's CPU seconds
    progress = next(m[2] for m in conn.sent if m[0] == "progress")
    stopped, done = conn.sent[-3][2]["history"][-1], conn.sent[-1][2]["history"][-1]
    assert stopped["examples"] == progress.examples == 25  # batches of one: the 25th step, not one more
    assert stopped["test_acc"] is None and not stopped["complete"]  # reported before the test pass
    assert done["test_acc"] is not None and done["examples"] == 25  # then measured, nothing trained since


def test_the_page_sees_the_stop_before_the_job_is_done(pool):
    job = _stop_mid_epoch(pool)
    view = job.wait_stopped(timeout=30)
    assert view.stopped and view.snapshot["history"][-1]["complete"] is False
    assert job.wait_done(timeout=30).stopped


def test_stop_through_the_pool_lands_within_one_step_of_the_request(monkeypatch):
    """Job.stop() (Stop's click), asked right after the worker's 25th step, goes through the pool to the
    worker: the part-epoch it records ends there, at most one step later (batches of one: examples are
    steps, counted, not timed). A thread worker, so that the request comes at a known step: from the
    worker's own progress report."""
    pool = TrainingPool(0, tiny_data)
    asked: list[int] = []
    real = TrainingRun.train_one_epoch

    def stop_at_the_first_report(self, data, *, on_progress=None, **kw):
        def progress(p):
            if not asked:
                asked.append(p.step)
                next(s.job for s in pool._slots if s.job is not None).stop()  # as Stop's click does
            on_progress(p)

        return real(self, data, on_progress=progress, **kw)

    monkeypatch.setattr(TrainingRun, "train_one_epoch", stop_at_the_first_report)
    try:
        job = pool.submit(TrainingRun(slow_config(epochs=50)).snapshot(), 50)
        view = job.wait_done(timeout=30)
    finally:
        pool.close()
    assert view.error is None
    history = view.snapshot["history"]
    assert asked == [25] and len(history) == 1 and not history[-1]["complete"]
    assert asked[0] <= history[-1]["examples"] <= asked[0] + 1


class _StopAtEpochEnd(_ScriptedConn):
    """Stop arrives once the epoch's last step is done: while the worker measures its test accuracy."""

    def send(self, msg) -> None:
        if msg[0] == "progress" and msg[2].step == msg[2].steps_per_epoch:
            self.stop.set()
        self.sent.append(msg)


def test_a_stop_during_the_test_pass_is_told_before_the_pass_ends():
    """The CNN's test pass takes seconds: a Stop that arrives there is sent ("stopped", the whole epoch with its
    test accuracy still to come) before the pass ends, and no further epoch starts."""
    stop = threading.Event()
    run = TrainingRun(slow_config(epochs=50))
    conn = _StopAtEpochEnd((7, run.snapshot(), 50), stop)
    jobs._worker(conn, stop, tiny_data, sharing=0)
    kinds = [m[0] for m in conn.sent]
    assert kinds[-3:] == ["stopped", "cpu", "done"] and "epoch" not in kinds
    stopped, done = conn.sent[-3][2]["history"], conn.sent[-1][2]["history"]
    assert len(stopped) == len(done) == 1 and stopped[0]["complete"] and stopped[0]["test_acc"] is None
    assert done[0]["test_acc"] is not None and done[0]["examples"] == 512
