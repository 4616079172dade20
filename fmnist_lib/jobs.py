"""Training jobs in worker processes: a fair queue, live progress, Stop, and workers that may die.

Why processes: a small model's per-step Python overhead holds the GIL, so runs trained in the
server's threads take turns on one core and stall every page (bench/results/classroom.md). Each
worker is a long-lived process whose torch threads are the thread policy's for the job's model within
its share of the cores (fmnist_lib.threads: one, with a worker per core); a job trains there and sends its
progress back through a pipe. Nothing here knows about Streamlit: the app reads a Job's state (`Job.view`).

* One `multiprocessing.Process` per slot, started from a forkserver that has imported torch once
  (workers share its pages copy-on-write), each mapping the data set's tensor file (no copy). A
  worker that dies (killed, out of memory) fails its job with a message; its slot gets a new
  process and the other slots go on (concurrent.futures' pool would break entirely).
* Jobs beyond the workers wait in a FIFO queue (`Job.view().ahead`).
* One server thread (`_drain`) receives the workers' messages and updates the Job objects under
  their lock; readers get copies.
* `workers=0`: one slot in a thread of this process (same protocol), for tests and tiny machines.
* A job nobody has looked at (`Job.view`) for `abandon_after` seconds is stopped: its browser tab was
  closed, and its worker is better spent on the sessions still there. A job given `keep_alive` is
  judged by it instead, every CHECK_SECONDS: stopped as soon as it says False (its session is gone for
  good), never while it says True (its session can come back: the job finishes and waits for it).
* `Job.on_done(fn)`: fn(view) is called once the job is over (in the pool's thread: plain Python only),
  to keep its result somewhere (lab_ui/persist.py stores it into the session store).

A job carries a run's state (`TrainingRun.snapshot()`) to the worker and gets one back after every
epoch, so the caller's run takes the weights, history and status as they come (`TrainingRun.restore`).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import heap
from . import threads as thread_policy
from .data import FashionMNIST

QUEUED, RUNNING, DONE = "queued", "running", "done"

# A page reads its job every fraction of a second; a background tab's timers may slow to one a minute
# (Chromium's intensive throttling), so only a job unread for two minutes is taken as abandoned.
ABANDON_SECONDS = 120.0
CHECK_SECONDS = 1.0  # how often the pool asks a job's keep_alive whether its session is still there
# A worker's progress news at most this often: the live panel reads its job once a second (lab_ui.training), and
# a softmax epoch's news every 25 steps (60 a second) cost the worker and the server's pool thread CPU unseen.
PROGRESS_SECONDS = 0.25

# Preloaded by the forkserver, so each forked worker starts with torch and the training code imported.
_PRELOAD = ["fmnist_lib.jobs"]


# Memory a machine needs for the server and for each training worker at their peaks (the small CNN's
# training step in the worker; bench/results/classroom.md): where the memory limit cannot hold them
# all, fewer workers start, or none (training in a thread of the server).
SERVER_PEAK_BYTES = 900 * 2**20
WORKER_PEAK_BYTES = 350 * 2**20


def memory_limit() -> int | None:
    """This process's memory limit from its cgroup (a container's, Community Cloud's), or None."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # cgroup v1 says "no limit" with a huge number
            return int(text)
        return None  # "max": no limit
    return None


def default_workers(limit: int | None = None) -> int:
    """FMNIST_WORKERS, else one worker per core this process may use, as many as its memory limit holds."""
    env = os.environ.get("FMNIST_WORKERS", "").strip()
    if env:
        return max(0, int(env))
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        cores = max(1, os.cpu_count() or 1)
    limit = memory_limit() if limit is None else limit
    if limit is None:
        return cores
    return max(0, min(cores, (limit - SERVER_PEAK_BYTES) // WORKER_PEAK_BYTES))


@dataclass(frozen=True)
class LiveProgress:
    """Where the epoch in progress is (from the worker, every few steps)."""

    epoch: int
    step: int
    steps_per_epoch: int
    examples: int
    loss: float
    examples_per_sec: float


@dataclass(frozen=True)
class JobView:
    """A copy of a job's state for the page to draw."""

    phase: str  # queued | running | done
    ahead: int  # jobs ahead of this one in the queue (queued only)
    progress: LiveProgress | None  # the epoch in progress (running only)
    snapshot: dict | None  # the run's state after its latest epoch (or at the end); None: none yet
    version: int  # grows with each change: a reader compares it to skip unchanged states
    error: str | None  # why the job failed (the worker died, say); None otherwise
    # Where the job's time went, for the classroom bench (bench/bench_classroom.py): time.monotonic() of its
    # submission, of its start in a worker and of its end (None: not yet), and the CPU seconds its worker spent
    # on it (all the worker's threads; measured in the worker, None until the job is done).
    queued_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    worker_cpu_s: float | None = None
    # The worker has stopped training (Stop): `snapshot` holds the part-epoch; the job is done once
    # the worker has measured its test accuracy (a second or more for the CNN).
    stopped: bool = False


class Job:
    """One training request: a run's state in, snapshots out. Lock-guarded; `view()` reads it."""

    def __init__(self, job_id: int, snapshot: dict, target_epochs: int) -> None:
        self.id = job_id
        self.request = (snapshot, target_epochs)
        self._cond = threading.Condition()
        self._phase = QUEUED
        self._ahead = 0
        self._progress: LiveProgress | None = None
        self._snapshot: dict | None = None
        self._version = 0
        self._error: str | None = None
        self._queued_at = time.monotonic()
        self._started_at: float | None = None
        self._finished_at: float | None = None
        self._worker_cpu_s: float | None = None
        self._stopped = False
        self._stop_requested = False
        self._on_stop: Callable[[], None] | None = None  # set by the pool: tells the worker to stop
        self.read_at = time.monotonic()  # when view() was last called: the pool stops a job nobody reads
        self.keep_alive: Callable[[], bool] | None = None  # see the module's docstring
        self._done_callbacks: list[Callable[[JobView], None]] = []

    def view(self) -> JobView:
        with self._cond:
            self.read_at = time.monotonic()
            return JobView(
                self._phase,
                self._ahead,
                self._progress,
                self._snapshot,
                self._version,
                self._error,
                self._queued_at,
                self._started_at,
                self._finished_at,
                self._worker_cpu_s,
                self._stopped,
            )

    @property
    def done(self) -> bool:
        with self._cond:
            return self._phase == DONE

    def stop(self) -> None:
        """Ask the job to end: a running epoch stops within a step and is recorded (the last snapshot)."""
        with self._cond:
            self._stop_requested = True
            on_stop = self._on_stop
        if on_stop is not None:
            on_stop()

    def on_done(self, fn: Callable[[JobView], None]) -> None:
        """Call fn(view) once the job is over (at once if it is already): from the pool's thread."""
        with self._cond:
            if self._phase != DONE:
                self._done_callbacks.append(fn)
                return
        fn(self.view())

    def wait(self, version: int, timeout: float) -> JobView:
        """The job's state once its version passes `version` (or it is done), or after `timeout` s."""
        with self._cond:
            self._cond.wait_for(lambda: self._version > version or self._phase == DONE, timeout)
        return self.view()

    def wait_done(self, timeout: float) -> JobView:
        with self._cond:
            self._cond.wait_for(lambda: self._phase == DONE, timeout)
        return self.view()

    def wait_stopped(self, timeout: float) -> JobView:
        """The job's state once its worker has stopped training (or the job is done), or after `timeout` s."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopped or self._phase == DONE, timeout)
        return self.view()

    def _update(self, **changes) -> None:
        with self._cond:
            for name, value in changes.items():
                setattr(self, f"_{name}", value)
            self._version += 1
            self._cond.notify_all()
            callbacks = self._done_callbacks if self._phase == DONE else []
            self._done_callbacks = [] if callbacks else self._done_callbacks
        if callbacks:
            view = self.view()
            for fn in callbacks:
                with contextlib.suppress(Exception):  # a callback's failure must not stop the pool's thread
                    fn(view)


def _worker(conn, stop, load_data: Callable[[], FashionMNIST], sharing: int = 1) -> None:
    """A worker's loop: receive (job id, snapshot, target epochs), train, send messages back.

    Messages: ("progress", id, LiveProgress), ("epoch", id, snapshot), ("stopped", id, snapshot), ("cpu", id,
    seconds) then ("done", id, snapshot) or ("error", id, text). A stop is checked before every step and between
    the batches of each epoch's test pass; the stopped epoch (a part-epoch, or a whole one whose test pass was
    under way) is sent ("stopped") before its test accuracy is measured, so the page can say so at once. None
    received (or a closed pipe) ends the worker.
    sharing: the worker processes that share the cores; each job's torch threads are the thread policy's
    for its model within this worker's share (fmnist_lib.threads). 0: a thread of the server, whose torch
    threads are the server's to set (lab_ui.resources), and whose CPU is this thread's alone.
    """
    from .run import TrainingRun

    if sharing:  # a process of its own: each batch's memory reused, not given back and faulted in again
        heap.keep_freed_memory()
    cpu_clock = time.process_time if sharing else time.thread_time
    data, data_error = None, None
    try:
        data = load_data()
    except Exception as e:  # each job reports it; the server stays up
        data_error = f"The training worker could not load the data set: {e}"
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        job_id, snapshot, target = msg
        if data is None:
            conn.send(("error", job_id, data_error))
            continue
        cpu0 = cpu_clock()
        try:
            run = TrainingRun.from_snapshot(snapshot)
            if sharing:
                thread_policy.apply(run.kind, sharing=sharing)
            start, sent = [time.perf_counter()], [float("-inf")]  # the first news is always sent

            def on_progress(p, job_id=job_id, start=start, sent=sent):
                now = time.perf_counter()
                if now - sent[0] < PROGRESS_SECONDS and p.step != p.steps_per_epoch:
                    return  # an epoch's last step is always told: the page shows the epoch full
                sent[0] = now
                rate = p.examples / max(now - start[0], 1e-9)
                conn.send(
                    ("progress", job_id, LiveProgress(p.epoch, p.step, p.steps_per_epoch, p.examples, p.loss, rate))
                )

            while run.epochs_done < target and not stop.is_set():
                start[0] = time.perf_counter()
                stats = run.train_one_epoch(
                    data, on_progress=on_progress, should_stop=stop.is_set, test=False, measure_stopped=False
                )
                if stats is None:  # diverged, or stopped before its first step
                    break
                told = [False]

                def tell_stop(job_id=job_id, run=run, told=told):
                    # A Stop seen at the epoch's end or during its test pass is sent at once (the epoch, its
                    # test accuracy still to come): the CNN's pass takes seconds, the page shows it now.
                    if not told[0] and stop.is_set():
                        told[0] = True
                        conn.send(("stopped", job_id, run.snapshot()))

                tell_stop()
                run.measure_last_epoch(data, between=tell_stop)
                if told[0] or not stats.complete:
                    break
                if run.epochs_done < target:
                    conn.send(("epoch", job_id, run.snapshot()))
            final = run.snapshot()
            conn.send(("cpu", job_id, cpu_clock() - cpu0))
            conn.send(("done", job_id, final))
        except Exception as e:  # a bug, not a user error: fail this job, keep serving
            conn.send(("cpu", job_id, cpu_clock() - cpu0))
            conn.send(("error", job_id, f"Training failed in the worker: {type(e).__name__}: {e}"))


class _ByValue:
    """One end of a pool's pipe whose messages are pickled with the standard pickler: tensors go by value.

    multiprocessing's pickler carries torch's reductions: each tensor sent was moved into shared memory and
    its file descriptor fetched by the receiver over a socket, with an authentication handshake per tensor
    (about 0.01 of the pool thread's 0.06 CPU-s per softmax run, issue 25; no /dev/shm needed either). By value
    a softmax snapshot is 38 KB (0.5 ms to pickle and unpickle), the CNN's with Adam's buffers 2.5 MB (12 ms).
    """

    def __init__(self, conn) -> None:
        self.conn = conn

    def send(self, msg) -> None:
        self.conn.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))

    def recv(self):
        return pickle.loads(self.conn.recv_bytes())  # from this pool's own worker or server, as before

    def poll(self, timeout: float = 0.0) -> bool:
        return self.conn.poll(timeout)

    def fileno(self) -> int:  # for multiprocessing.connection.wait
        return self.conn.fileno()

    def close(self) -> None:
        self.conn.close()


class _ThreadWorker(threading.Thread):
    """workers=0: the worker loop in a thread of this process (no sentinel: it cannot be killed)."""

    def __init__(self, conn, stop, load_data) -> None:
        super().__init__(target=_worker, args=(conn, stop, load_data, 0), name="fmnist-train-worker", daemon=True)
        self.sentinel = None
        self.exitcode = None


class _Slot:
    """One worker and the job it trains."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process = None
        self.conn = None  # the server's end of the worker's pipe
        self.stop = None  # an Event the worker polls between steps
        self.job: Job | None = None


class TrainingPool:
    """`workers` training processes (0: one thread here) and a FIFO queue of jobs.

    load_data: a picklable function (module-level, or functools.partial of one) that returns the data set
    in a worker; pass one that maps the data set's tensor file, so the workers share its pages.
    """

    def __init__(
        self,
        workers: int,
        load_data: Callable[[], FashionMNIST],
        *,
        context: str = "forkserver",
        abandon_after: float | None = ABANDON_SECONDS,
    ) -> None:
        self.workers = workers
        self.abandon_after = abandon_after
        self._load_data = load_data
        self._ctx = multiprocessing.get_context(context) if workers > 0 else None
        if context == "forkserver" and workers > 0:
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._lock = threading.Lock()
        self._queue: collections.deque[Job] = collections.deque()
        self._slots = [_Slot(i) for i in range(max(1, workers))]
        self._ids = itertools.count(1)
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._closed = False
        self.restarts = 0  # workers replaced after dying, for the log and tests
        for slot in self._slots:
            self._start_worker(slot)
        self._thread = threading.Thread(target=self._drain, name="fmnist-train-pool", daemon=True)
        self._thread.start()

    # --- for callers -----------------------------------------------------------------------
    def submit(self, snapshot: dict, target_epochs: int) -> Job:
        """Queue a job that trains the run in `snapshot` until it has `target_epochs` epochs."""
        job = Job(next(self._ids), snapshot, target_epochs)
        job._on_stop = lambda: self._stop(job)
        with self._lock:
            if self._closed:
                raise RuntimeError("The training pool is closed.")
            self._queue.append(job)
            self._dispatch()
        return job

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [s.process.pid for s in self._slots if getattr(s.process, "pid", None)]

    def worker_pid(self, job: Job) -> int | None:
        """The process id of the worker training `job` (None: queued, done, or trained in a thread)."""
        with self._lock:
            slot = next((s for s in self._slots if s.job is job), None)
            return getattr(slot.process, "pid", None) if slot is not None else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            slots = list(self._slots)
        for slot in slots:
            with contextlib.suppress(OSError, ValueError):
                slot.conn.send(None)
        self._wake()
        for slot in slots:
            if isinstance(slot.process, _ThreadWorker):
                continue
            slot.process.join(timeout=5)
            if slot.process.is_alive():
                slot.process.kill()

    # --- inside ------------------------------------------------------------------------------
    def _start_worker(self, slot: _Slot) -> None:
        if self.workers == 0:
            server, worker = multiprocessing.Pipe()
            slot.stop = threading.Event()
            slot.process = _ThreadWorker(_ByValue(worker), slot.stop, self._load_data)
        else:
            server, worker = self._ctx.Pipe()
            slot.stop = self._ctx.Event()
            slot.process = self._ctx.Process(
                target=_worker,
                args=(_ByValue(worker), slot.stop, self._load_data, max(1, self.workers)),
                name=f"fmnist-train-worker-{slot.index}",
                daemon=True,
            )
        slot.process.start()
        if self.workers > 0:
            worker.close()  # the worker holds its end: EOF here when it dies
        slot.conn = _ByValue(server)

    def _wake(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._wake_w.send_bytes(b"x")

    def _stop(self, job: Job) -> None:
        with self._lock:
            if job in self._queue:  # never started: done at once, nothing learned, nothing lost
                self._queue.remove(job)
                self._refresh_positions()
                job._update(phase=DONE, progress=None, finished_at=time.monotonic())
                return
            for slot in self._slots:
                if slot.job is job:
                    slot.stop.set()

    def _refresh_positions(self) -> None:
        for i, queued in enumerate(self._queue):
            queued._update(ahead=i)

    def _dispatch(self) -> None:
        """Give queued jobs to idle workers, oldest first (holding self._lock)."""
        for slot in self._slots:
            if slot.job is None and self._queue:
                job = self._queue.popleft()
                slot.stop.clear()
                slot.job = job
                snapshot, target = job.request
                # A worker that died just now: _drain restarts it and fails the job.
                with contextlib.suppress(OSError, ValueError):
                    slot.conn.send((job.id, snapshot, target))
                job._update(phase=RUNNING, ahead=0, started_at=time.monotonic())
                if job._stop_requested:
                    slot.stop.set()
        self._refresh_positions()
        self._wake()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                conns = {s.conn: s for s in self._slots}
                sentinels = {s.process.sentinel: (s, s.process) for s in self._slots if s.process.sentinel is not None}
            timeout = CHECK_SECONDS if self.abandon_after is None else min(CHECK_SECONDS, self.abandon_after / 4)
            ready = multiprocessing.connection.wait([self._wake_r, *conns, *sentinels], timeout)
            self._stop_abandoned()
            for r in ready:
                if r is self._wake_r:
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
                elif r in conns:
                    slot = conns[r]
                    if not self._receive(slot):
                        self._replace(slot, slot.process)
                elif r in sentinels:
                    self._replace(*sentinels[r])

    def _stop_abandoned(self) -> None:
        limit = None if self.abandon_after is None else time.monotonic() - self.abandon_after
        with self._lock:
            jobs = [s.job for s in self._slots if s.job is not None] + list(self._queue)
        for job in jobs:
            if job._stop_requested:
                continue
            if job.keep_alive is not None:
                try:
                    alive = job.keep_alive()
                except Exception:  # a broken check keeps the job: the staleness rule below is not applied
                    alive = True
                if not alive:
                    job.stop()
            elif limit is not None and job.read_at < limit:
                job.stop()

    def _receive(self, slot: _Slot) -> bool:
        """Handle the messages waiting from a slot's worker; False when its pipe is closed (it died)."""
        try:
            while slot.conn.poll():
                self._handle(slot, *slot.conn.recv())
        except (EOFError, OSError):
            return False
        return True

    def _handle(self, slot: _Slot, kind: str, job_id: int, payload) -> None:
        job = slot.job
        if job is None or job.id != job_id:
            return  # a late message of a job that already failed
        if kind == "progress":
            job._update(progress=payload)
        elif kind == "epoch":
            job._update(snapshot=payload, progress=None)
        elif kind == "cpu":
            job._update(worker_cpu_s=payload)
        elif kind == "stopped":
            job._update(snapshot=payload, progress=None, stopped=True)
        else:  # done or error: the slot is free
            with self._lock:
                slot.job = None
                self._dispatch()
            if kind == "done":
                job._update(phase=DONE, snapshot=payload, progress=None, finished_at=time.monotonic())
            else:
                job._update(phase=DONE, error=payload, progress=None, finished_at=time.monotonic())

    def _replace(self, slot: _Slot, process) -> None:
        """A worker died: keep what it sent, fail its job, start a new worker in its slot, go on."""
        if slot.process is not process or self._closed:
            return  # already replaced (its pipe and its sentinel both reported it)
        self._receive(slot)  # an epoch it finished just before dying still counts
        process.join(timeout=1)
        code = process.exitcode
        with self._lock:
            job, slot.job = slot.job, None
            slot.conn.close()
            self.restarts += 1
            try:
                self._start_worker(slot)
            except OSError:  # the forkserver is gone (the interpreter is exiting): no worker can start
                self._closed = True
            else:
                self._dispatch()
        if job is not None:
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            job._update(
                phase=DONE,
                progress=None,
                finished_at=time.monotonic(),
                error=(
                    f"The training worker stopped unexpectedly ({how}; perhaps the server ran out of memory). "
                    "The epochs finished before that are kept."
                ),
            )


__all__ = [
    "DONE",
    "QUEUED",
    "RUNNING",
    "Job",
    "JobView",
    "LiveProgress",
    "TrainingPool",
    "default_workers",
    "memory_limit",
]
