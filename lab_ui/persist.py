"""The session's runs on disk, so that a reload, a reopened tab or a dropped connection finds them again.

* The key: the browser's HttpOnly cookie (session_cookie.py), read with st.context.cookies. Without
  it (cookies blocked, AppTest) nothing is stored: the session lives as long as its tab, as before.
* `restore` (first script run of a session): the stored session (fmnist_lib.session_store) becomes
  this session's runs, active model, compare selection and last photo (its file, which Upload shows
  again, and its 28x28 inputs, which Inside softmax reads); a training job it had is found
  again in this server's pool and watched on (or its result taken, if it ended meanwhile).
* `save_if_changed` (end of every script run, and every tick of the Train page's live panel): stores
  the session when what it holds changed (a new run, an epoch, a load, the active model, ...); an
  unchanged session (most reruns) costs one small tuple comparison.
* `track` (a job submitted): a job of a session with a key finishes even if nobody watches, and its
  result is stored when it ends; a job of a session without a key is stopped seconds after its tab's
  connection closed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
import time
from collections.abc import Callable

import streamlit as st

from fmnist_lib.jobs import JobView
from fmnist_lib.session_store import (
    SessionError,
    SessionStore,
    StoredJob,
    StoredRun,
    StoredSession,
    default_dir,
    file_name,
    key_is_valid,
    session_bytes,
    session_from_bytes,
)

from . import session_cookie, state
from .text import plain

GRACE_SECONDS = 5.0  # a keyless job whose connection closed this long ago (and unread since) is stopped
RESTORED_PREFIX = "restored:"  # a restored photo's digest: never equal to a new upload's
SERVER_RESTARTED = "the server restarted while it trained"

_store: SessionStore | None = None
_store_lock = threading.Lock()
_jobs_lock = threading.Lock()
_jobs: dict[str, state.TrainJob] = {}  # file_name(key) -> the session's latest job (done ones too, until replaced)


def store() -> SessionStore:
    """The server's session store (FMNIST_SESSION_DIR, default data/sessions); expired files purged at start."""
    global _store
    with _store_lock:
        if _store is None:
            _store = SessionStore(default_dir())
            with contextlib.suppress(OSError):  # an unreadable folder: save() reports it
                _store.purge()
        return _store


def session_key() -> str | None:
    """This browser's session key, from its cookie; None without one."""
    try:
        value = st.context.cookies.get(session_cookie.COOKIE)
    except Exception:  # no browser (AppTest, a bare script run): nothing to key on
        return None
    return value if key_is_valid(value) else None


def connection() -> str | None:
    try:
        return st.context.headers.get(session_cookie.CONNECTION_HEADER)
    except Exception:
        return None


# --- restore ---------------------------------------------------------------------------------


def restore() -> None:
    """Once per session: take back the stored session of this browser, if there is one."""
    ss = st.session_state
    if ss.get(state.PERSIST_CHECKED):
        return
    ss[state.PERSIST_CHECKED] = True
    key = session_key()
    if key is None or state.runs():
        return
    try:
        stored = store().load(key)
    except SessionError as e:
        ss[state.PERSIST_NOTE] = ("warning", f"Your stored session could not be read, so it was discarded: {e}")
        return
    except OSError as e:
        ss[state.PERSIST_NOTE] = ("warning", f"Your stored session could not be read ({e.strerror or e}).")
        return
    if stored is None:
        return
    apply(stored, key)
    # A job that ended while no tab watched it is told once: the next save (which leaves that out) is forced.
    ended = state.find_run(stored.ended_unseen)
    ss[state.PERSIST_SAVED] = None if stored.ended_unseen is not None else _signature()
    if ended is not None:
        ss[state.PERSIST_AWAY] = away_note(ended)
    n = len(stored.runs)
    if n:
        ss[state.PERSIST_NOTE] = (
            "info",
            f"Welcome back: the {n} run{'s' * (n > 1)} of this browser's session are here.",
        )


def away_note(lab_run: state.LabRun) -> tuple[str, str]:
    """(level, text): how `lab_run`'s training ended while the learner was away (its name as plain text)."""
    run, name = lab_run.run, plain(lab_run.name)
    acc = f", test accuracy {run.test_acc:.1%}" if run.test_acc is not None else ""
    if run.status == "finished":
        return "success", f"Finished while you were away: {name}{acc}."
    if run.status == "diverged":
        return "error", f"Diverged while you were away: {name}. {plain(run.message)}"
    if run.status == "failed":
        return "error", f"Stopped by a failure while you were away: {name}. {plain(run.message)}"
    return "info", f"Stopped while you were away: {name}{acc}."


def apply(stored: StoredSession, key: str | None) -> None:
    """Make `stored` this session's runs, choices and photo (and its job, found again by `key`)."""
    ss = st.session_state
    ss[state.RUNS] = [state.LabRun(r.id, r.name, r.run, r.origin, r.pinned) for r in stored.runs]
    ss[state.RUN_COUNTER] = itertools.count(max((r.id for r in stored.runs), default=0) + 1)
    ss[state.ACTIVE] = stored.active
    ss[state.value_key(state.COMPARE)] = list(stored.compare)
    if stored.upload:
        pipelines = {name: state.Processed(pixels, []) for name, pixels in stored.upload.items()}
        digest = stored.upload_digest
        digest = digest if digest.startswith(RESTORED_PREFIX) else RESTORED_PREFIX + digest
        ss[state.UPLOAD_MEMO] = state.UploadResult(digest, pipelines=pipelines)
    if stored.photo:
        ss[state.UPLOAD_PHOTO] = state.Photo(stored.photo_name, stored.photo)
    if stored.job is None or key is None:
        return
    lab_run = state.find_run(stored.job.run_id)
    with _jobs_lock:
        found = _jobs.get(file_name(key))
    if found is not None and found.job is not None and found.job.id == stored.job.job_id:
        # Watch the same job on; a copy, so the closed tab's session (kept a while by Streamlit) is left alone.
        watching = dataclasses.replace(found, taken=None, connection=connection(), started=time.perf_counter())
        with _jobs_lock:
            _jobs[file_name(key)] = watching
        ss[state.JOB] = watching
    elif lab_run is not None:
        lab_run.run.pause(SERVER_RESTARTED)  # its last stored epoch is kept; Continue trains on


# --- save --------------------------------------------------------------------------------------


def _photo_signature() -> tuple | None:
    photo = st.session_state.get(state.UPLOAD_PHOTO)
    return None if photo is None else (photo.name, photo.file_id, len(photo.data))


def _signature() -> tuple:
    """What the stored copy depends on, cheaply: changes with a new run, an epoch, a status, a choice, a photo."""
    job = state.job()
    memo = st.session_state.get(state.UPLOAD_MEMO)
    return (
        tuple(
            (r.id, r.name, r.origin, r.run.epochs_done, r.run.steps, r.run.status, r.run.paused_because, r.pinned)
            for r in state.runs()
        ),
        state.active_id(),
        tuple(state.get(state.COMPARE, [])),
        memo.digest if memo is not None and not memo.error else None,
        (job.job.id, job.pause_reason, job.stop_requested) if job is not None and job.job is not None else None,
        _photo_signature(),
    )


def current(*, with_job: bool = True, with_photo: bool = True) -> StoredSession:
    """This session as a StoredSession (the runs themselves, not copies: written at once)."""
    job = state.job() if with_job else None
    photo = st.session_state.get(state.UPLOAD_PHOTO) if with_photo else None
    memo = st.session_state.get(state.UPLOAD_MEMO)
    upload = None
    if memo is not None and not memo.error and memo.pipelines:
        upload = {name: p.pixels for name, p in memo.pipelines.items()}
    ids = [r.id for r in state.runs()]
    return StoredSession(
        runs=[StoredRun(r.id, r.name, r.origin, r.run, r.pinned) for r in state.runs()],
        active=state.active_id(),
        compare=[i for i in state.get(state.COMPARE, []) if i in ids],
        upload=upload,
        upload_digest=memo.digest if upload else "",
        job=None
        if job is None or job.job is None
        else StoredJob(
            job.run_id, job.job.id, job.target_epochs, job.start_epochs, job.pause_reason, job.stop_requested
        ),
        photo=None if photo is None else photo.data,
        photo_name="" if photo is None else photo.name,
    )


def save_if_changed() -> None:
    """Store the session if what it holds changed since it was last stored (see the module's docstring)."""
    ss = st.session_state
    key = session_key()
    if key is None:
        return
    signature = _signature()
    before = ss.get(state.PERSIST_SAVED)
    if before == signature:
        return
    ss[state.PERSIST_SAVED] = signature
    try:
        if not state.runs() and signature[3] is None and signature[-1] is None:
            store().delete(key)  # nothing to keep
            return
        saved = store().save(key, current())
    except (OSError, ValueError) as e:
        ss[state.PERSIST_NOTE] = (
            "warning",
            f"Your runs could not be stored on the server ({getattr(e, 'strerror', None) or e}): a reload would "
            "lose them. Download the session file on the Train page to keep them.",
        )
        return
    if saved.dropped:
        ss[state.PERSIST_NOTE] = (
            "warning",
            "The stored copy of your session leaves out "
            + ", ".join(saved.dropped)
            + " to stay within the server's limit; download the session file to keep everything.",
        )
    elif saved.photo_left_out and (before is None or before[-1] != signature[-1]):  # once per photo
        ss[state.PERSIST_NOTE] = (
            "info",
            "Your photo is too large to store beside your runs: after a reload, Upload will ask for it again "
            "(Inside softmax keeps its 28×28).",
        )


def forget() -> None:
    """on_click of "Forget this session's runs": the runs, the choices and the stored copy, gone."""
    ss = st.session_state
    if state.job() is not None:
        return
    for name in (
        state.RUNS,
        state.NOTICE,
        state.UPLOAD_MEMO,
        state.UPLOAD_PHOTO,
        state.PRED_MEMO,
        state.SESSION_FILE_SEEN,
    ):
        ss.pop(name, None)
    ss[state.ACTIVE] = None
    ss[state.value_key(state.COMPARE)] = []
    key = session_key()
    if key is not None:
        with contextlib.suppress(OSError):
            store().delete(key)
    ss[state.PERSIST_SAVED] = _signature()


def show_note() -> None:
    """The message about the stored session (restored, could not be read or stored), and how a job ended while
    the learner was away, once."""
    note = st.session_state.pop(state.PERSIST_NOTE, None)
    if note is not None:
        level, text = note
        (st.toast(text, icon=":material/history:") if level == "info" else st.warning(text))
    away = st.session_state.pop(state.PERSIST_AWAY, None)
    if away is not None:
        level, text = away
        {"success": st.success, "info": st.info, "error": st.error}[level](text, icon=":material/history:")


# --- jobs ----------------------------------------------------------------------------------------


def track(train_job: state.TrainJob, finish: Callable[[object, JobView, state.TrainJob], None]) -> None:
    """A job was submitted: how long it lives without its session, and where its result goes.

    finish(run, view, train_job) records how the job ended in the run (training.finish)."""
    job = train_job.job
    train_job.connection = connection()
    key = session_key()
    if key is None:
        # Gone for good once its tab's connection has closed (a reconnect within the grace reads it again).
        job.keep_alive = lambda: _connection_alive(train_job, job)
        return
    name = file_name(key)
    with _jobs_lock:
        _jobs[name] = train_job
    job.keep_alive = lambda: True  # the session can come back: finish, and wait for it
    job.on_done(lambda view: threading.Thread(target=_store_result, args=(key, job.id, view, finish)).start())


def _connection_alive(train_job: state.TrainJob, job) -> bool:
    if train_job.connection is None:  # no middleware (a bare server): only the pool's staleness rule
        return time.monotonic() - job.read_at < 120.0
    closed = session_cookie.closed_for(train_job.connection)
    return closed is None or closed < GRACE_SECONDS or time.monotonic() - job.read_at < GRACE_SECONDS


_result_lock = threading.Lock()


def _store_result(key: str, job_id: int, view: JobView, finish) -> None:
    """The job ended (pool thread): put its result into the stored session, unless the session took it already;
    then forget the job (its last snapshot: up to a few MB per browser that trained)."""
    try:
        _store_result_now(key, job_id, view, finish)
    finally:
        with _jobs_lock:
            kept = _jobs.get(file_name(key))
            if kept is not None and kept.job is not None and kept.job.id == job_id:
                del _jobs[file_name(key)]


def _store_result_now(key: str, job_id: int, view: JobView, finish) -> None:
    with _result_lock:
        try:
            stored = store().load(key)
        except (SessionError, OSError):
            return
        if stored is None or stored.job is None or stored.job.job_id != job_id:
            return  # the session took the result itself (or moved on)
        run = next((r.run for r in stored.runs if r.id == stored.job.run_id), None)
        with _jobs_lock:
            train_job = _jobs.get(file_name(key))
        if run is None or train_job is None or train_job.job is None or train_job.job.id != job_id:
            return
        try:
            if view.snapshot is not None:
                run.restore(view.snapshot)
            finish(run, view, train_job)
            stored.ended_unseen, stored.job = stored.job.run_id, None  # told on the next visit (restore)
            store().save(key, stored)
        except (OSError, ValueError):
            return


def session_file_bytes() -> Callable[[], bytes]:
    """The whole session as one file, for the learner to download (without its job: that is this server's; nor
    its photo: a file handed in carries the runs, not a picture the learner may not mean to share).

    A function for st.download_button that serializes on the click only: the session is taken now (its runs,
    not copies), because the click's deferred call runs outside this session's state."""
    session = current(with_job=False, with_photo=False)
    return lambda: session_bytes(session)


def load_session_file(data: bytes) -> tuple[str, str]:
    """(level, message): the runs of a session file added to this session's, or why the file was refused."""
    try:
        loaded = session_from_bytes(data)
    except SessionError as e:
        return "error", f"This session file was refused: {e}"
    old_to_new = {}
    for r in loaded.runs:
        name = r.name
        try:
            lab_run = state.add_run(r.run, origin="session file", name=name)
        except state.NoRoom as e:
            return "error", f"Loaded {len(old_to_new)} of the file's {len(loaded.runs)} runs. {e}"
        lab_run.pinned = r.pinned
        prefix = f"#{r.id} "
        if name.startswith(prefix) and lab_run.id != r.id:
            lab_run.name = f"#{lab_run.id} " + name[len(prefix) :]
        old_to_new[r.id] = lab_run.id
    if loaded.active in old_to_new:
        state.set_active(old_to_new[loaded.active])
    kept = [old_to_new[c] for c in loaded.compare if c in old_to_new]
    st.session_state[state.value_key(state.COMPARE)] = [i for i in kept if state.find_run(i) is not None]
    n = len(loaded.runs)
    return "success", f"Loaded {n} run{'s' * (n != 1)} from the session file."
