"""A learner's session on disk: its runs (weights, histories, settings) and a few choices, by an unguessable key.

The app keeps a session's state in memory; a reload or a closed tab would lose it. This module writes
it to one file per session and reads it back, with no UI:

* a session file is a torch.save'd plain dict: each run as a checkpoint's dict (checkpoint.py) plus
  its status, and the active run, the compare selection, the last photo (its file's bytes, at most
  the upload limit, and its 28x28 inputs) and the training job in progress (its ids only: the job
  itself lives in the server's pool);
* loading one goes through the same steps as a checkpoint (checkpoint.load_plain: size, archive,
  torch's restricted unpickler, then every field checked; checkpoint.run_from_dict for each run),
  so a damaged or hand-made file is refused with a message and nothing in it runs;
* the store (SessionStore) keeps at most MAX_RUNS runs and MAX_SESSION_BYTES per session (over it, the
  photo's bytes are left out first, then the oldest runs), names
  each file by a SHA-256 of its key (a listing of the folder reveals no key), writes atomically
  (a reader sees the old file or the new one), and forgets a session not saved for TTL_SECONDS.

The same bytes are the "session file" a learner downloads and loads on another machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import checkpoint_check as check
from .checkpoint import CheckpointError, Limits, checkpoint_dict, load_plain, run_from_dict
from .images.decode import MAX_UPLOAD_BYTES
from .keeping import drop_order
from .run import TrainingRun

FORMAT = "fmnist-lab-session"
VERSION = 1
MAX_RUNS = 8  # as many as a session of the app keeps (lab_ui/state.py)
MAX_SESSION_BYTES = 40 * 2**20  # 8 CNN runs with Adam's state are ~25 MB; a softmax run is ~0.1 MB
TTL_SECONDS = 12 * 3600  # a working day: a session not saved for this long is forgotten
ENV_VAR = "FMNIST_SESSION_DIR"  # where the store lives; default data/sessions (beside data/models)
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "data" / "sessions"
STATUSES = ("new", "running", "stopped", "finished", "diverged", "failed")
ORIGINS = ("trained", "checkpoint", "session file")
MAX_NAME = 200  # characters of a run's name (a checkpoint's file name is part of it)
MAX_MESSAGE = 2000
MAX_PHOTO_BYTES = MAX_UPLOAD_BYTES  # the last photo's file: no larger than an upload may be
_KEY = re.compile(r"[A-Za-z0-9_-]{32,128}")  # secrets.token_urlsafe's alphabet
_LIMITS = Limits(
    max_bytes=MAX_SESSION_BYTES + 2**20, max_pickle_bytes=16 * 2**20, max_entries=2048, what="session file"
)


class SessionError(CheckpointError):
    """The file is not a usable session of this app; the message says why."""


@dataclass
class StoredRun:
    """A run of a session, as the app names it."""

    id: int
    name: str
    origin: str
    run: TrainingRun
    pinned: bool = False  # the learner chose to keep it: never the run dropped to make room (fmnist_lib.keeping)


@dataclass
class StoredJob:
    """The training a session had under way: which run, and which job of the server's pool trains it."""

    run_id: int
    job_id: int  # the pool's Job.id: the app finds the job again by it while the server runs
    target_epochs: int
    start_epochs: int
    pause_reason: str | None = None
    stop_requested: bool = False


@dataclass
class StoredSession:
    runs: list[StoredRun] = field(default_factory=list)
    active: int | None = None  # id of the active run; None: the default model
    compare: list[int] = field(default_factory=list)  # run ids overlaid on the Train page
    upload: dict[str, np.ndarray] | None = None  # the last photo: pipeline name -> its 28x28 uint8 input
    upload_digest: str = ""
    job: StoredJob | None = None
    saved_at: float = 0.0  # time.time() of the save
    photo: bytes | None = None  # the last photo's file as uploaded (Upload shows it again after a reload)
    photo_name: str = ""  # its file name, as the browser gave it
    # The run whose job ended while no tab watched it (stored by the server's thread): the next visit says
    # how it ended, once (the session's own next save leaves it out).
    ended_unseen: int | None = None


def new_key() -> str:
    """A session key: 256 random bits, URL-safe (secrets.token_urlsafe)."""
    return secrets.token_urlsafe(32)


def key_is_valid(key: object) -> bool:
    return isinstance(key, str) and _KEY.fullmatch(key) is not None


def file_name(key: str) -> str:
    """The store's file name for a key: a hash, so the key itself is never written anywhere."""
    return hashlib.sha256(f"{FORMAT}:{key}".encode()).hexdigest()[:40] + ".pt"


# --- to and from bytes -----------------------------------------------------------------------


def session_bytes(session: StoredSession, *, now: float | None = None) -> bytes:
    """The session as one file's bytes (the runs' tensors included)."""
    runs = []
    for r in session.runs[-MAX_RUNS:]:
        runs.append(
            {
                "id": r.id,
                "name": r.name,
                "origin": r.origin,
                "checkpoint": checkpoint_dict(r.run),
                "status": r.run.status,
                "message": r.run.message,
                "paused_because": r.run.paused_because,
                "pinned": bool(r.pinned),
            }
        )
    obj = {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": float(time.time() if now is None else now),
        "runs": runs,
        "active": session.active,
        "compare": list(session.compare),
        "upload": None
        if session.upload is None
        else {
            "digest": session.upload_digest,
            "pixels": {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.uint8)) for k, v in session.upload.items()},
        },
        "job": None if session.job is None else dict(vars(session.job)),
        "ended_unseen": session.ended_unseen,
    }
    if session.photo:  # a tensor, not bytes: it is stored beside the pickle, not inside it
        obj["photo"] = {
            "name": photo_name(session.photo_name),
            "data": torch.frombuffer(bytearray(session.photo), dtype=torch.uint8),
        }
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def session_from_bytes(data: bytes | os.PathLike | str) -> StoredSession:
    """A session from a file's bytes (or path), every field checked; SessionError says what is wrong."""
    try:
        obj = load_plain(data, _LIMITS)
    except SessionError:
        raise
    except CheckpointError as e:
        raise SessionError(str(e)) from e
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise SessionError("This file is not a session saved by this app (a checkpoint is loaded above, not here).")
    if obj.get("version") != VERSION:
        raise SessionError(f"Unsupported session version {check.show(obj.get('version'))} (this app reads {VERSION}).")
    try:
        return _session_from_dict(obj)
    except SessionError:
        raise
    except CheckpointError as e:
        raise SessionError(str(e)) from e


def photo_name(name: str) -> str:
    """A file name as a session stores it: printable, at most MAX_NAME characters, never empty."""
    kept = "".join(c if c.isprintable() else "?" for c in str(name))[:MAX_NAME]
    return kept or "photo"


def _session_from_dict(obj: dict) -> StoredSession:
    fields_ = {"format", "version", "saved_at", "runs", "active", "compare", "upload", "job"}
    # Fields added since version 1's first files, optional so that those still load.
    check.plain_dict(obj, "The session", fields_ | {"photo", "ended_unseen"}, fields_)
    saved_at = float(check.number(obj["saved_at"], "The session's save time", 0, 1e11))
    if not isinstance(obj["runs"], list):
        raise SessionError("The session's runs are not a list.")
    if len(obj["runs"]) > MAX_RUNS:
        raise SessionError(f"The session has {len(obj['runs'])} runs; at most {MAX_RUNS} are read.")
    runs: list[StoredRun] = []
    for i, entry in enumerate(obj["runs"]):
        runs.append(_run_entry(entry, i + 1))
    ids = [r.id for r in runs]
    if len(set(ids)) != len(ids):
        raise SessionError("Two runs of the session have the same id.")
    active = obj["active"]
    if active is not None and (active not in ids or isinstance(active, bool)):
        raise SessionError(f"The session's active run {check.show(active)} is not one of its runs.")
    compare = obj["compare"]
    if not isinstance(compare, list) or len(compare) > MAX_RUNS or not all(c in ids for c in compare):
        raise SessionError("The session's compare selection names runs it does not have.")
    ended = obj.get("ended_unseen")
    if ended is not None and (ended not in ids or isinstance(ended, bool)):
        raise SessionError(f"The session's run that ended unseen, {check.show(ended)}, is not one of its runs.")
    upload, digest = _upload(obj["upload"])
    photo, name = _photo(obj.get("photo"))
    job = _job(obj["job"], ids)
    return StoredSession(runs, active, list(compare), upload, digest, job, saved_at, photo, name, ended)


def _run_entry(entry, n: int) -> StoredRun:
    what = f"Run {n} of the session"
    keys = {"id", "name", "origin", "checkpoint", "status", "message", "paused_because"}
    entry = check.plain_dict(entry, what, keys | {"pinned"}, keys)  # "pinned": optional (older files)
    pinned = entry.get("pinned", False)
    if not isinstance(pinned, bool):
        raise SessionError(f"{what}: its pin is not true or false.")
    rid = int(check.number(entry["id"], f"{what}: its id", 1, 10**9, integer=True))
    name = check.text(entry["name"], f"{what}: its name", MAX_NAME)
    if entry["origin"] not in ORIGINS:
        raise SessionError(f"{what}: its origin {check.show(entry['origin'])} is not one of {', '.join(ORIGINS)}.")
    if entry["status"] not in STATUSES:
        raise SessionError(f"{what}: its status {check.show(entry['status'])} is not one of {', '.join(STATUSES)}.")
    message = entry["message"]
    if not isinstance(message, str) or len(message) > MAX_MESSAGE:
        raise SessionError(f"{what}: its message is not a short text.")
    paused = entry["paused_because"]
    if paused is not None:
        paused = check.text(paused, f"{what}: why it was paused", MAX_MESSAGE)
    try:
        run = run_from_dict(entry["checkpoint"])
    except CheckpointError as e:
        raise SessionError(f"{what}: {e}") from e
    # A run stored while training ("running") is taken back as stopped unless its job is found again.
    run.status = "stopped" if entry["status"] == "running" else entry["status"]
    run.message, run.paused_because = message, paused
    return StoredRun(rid, name, entry["origin"], run, pinned)


def _upload(value) -> tuple[dict[str, np.ndarray] | None, str]:
    if value is None:
        return None, ""
    value = check.plain_dict(value, "The session's photo", {"digest", "pixels"}, {"digest", "pixels"})
    digest = check.text(value["digest"], "The session's photo id", 128)
    pixels = check.plain_dict(value["pixels"], "The session's photo inputs", {"ours", "tutorial"})
    out = {}
    for name, t in pixels.items():
        t = check.plain_tensor(t, f"The photo's {name} input")
        if t.dtype != torch.uint8 or tuple(t.shape) != (28, 28):
            raise SessionError(f"The photo's {name} input is not a 28x28 image of bytes.")
        out[name] = t.numpy().copy()
    return out, digest


def _photo(value) -> tuple[bytes | None, str]:
    if value is None:
        return None, ""
    value = check.plain_dict(value, "The session's photo file", {"name", "data"}, {"name", "data"})
    name = check.text(value["name"], "The session's photo file name", MAX_NAME)
    t = check.plain_tensor(value["data"], "The session's photo file")
    if t.dtype != torch.uint8 or t.dim() != 1 or not 1 <= t.numel() <= MAX_PHOTO_BYTES:
        raise SessionError(
            f"The session's photo file is not 1 to {MAX_PHOTO_BYTES:,} bytes (the upload limit) in a row of bytes."
        )
    return t.numpy().tobytes(), name


def _job(value, ids: list[int]) -> StoredJob | None:
    if value is None:
        return None
    keys = {"run_id", "job_id", "target_epochs", "start_epochs", "pause_reason", "stop_requested"}
    value = check.plain_dict(value, "The session's training job", keys, keys)
    if value["run_id"] not in ids:
        raise SessionError("The session's training job names a run it does not have.")
    for k in ("job_id", "target_epochs", "start_epochs"):
        check.number(value[k], f"The training job's {k}", 0, 10**9, integer=True)
    if not isinstance(value["stop_requested"], bool):
        raise SessionError("The training job's stop_requested is not true or false.")
    if value["pause_reason"] is not None:
        check.text(value["pause_reason"], "The training job's pause reason", MAX_MESSAGE)
    return StoredJob(**value)


# --- the store ----------------------------------------------------------------------------------


def default_dir() -> Path:
    """$FMNIST_SESSION_DIR, else data/sessions."""
    value = os.environ.get(ENV_VAR, "").strip()
    return Path(value).expanduser() if value else DEFAULT_DIR


@dataclass(frozen=True)
class Saved:
    """What a save wrote: its size, and what it left out to stay within MAX_SESSION_BYTES."""

    size: int
    dropped: tuple[str, ...] = ()  # the names of the runs left out
    photo_left_out: bool = False  # the photo's file (its 28x28 inputs are kept)


class SessionStore:
    """One file per session key in `folder`, written atomically, forgotten after `ttl` seconds."""

    def __init__(self, folder: str | os.PathLike, *, ttl: float = TTL_SECONDS, max_bytes: int = MAX_SESSION_BYTES):
        self.folder = Path(folder)
        self.ttl = ttl
        self.max_bytes = max_bytes

    def path(self, key: str) -> Path:
        if not key_is_valid(key):
            raise ValueError("not a session key")
        return self.folder / file_name(key)

    def save(self, key: str, session: StoredSession, *, now: float | None = None) -> Saved:
        """Write the session (atomically). Beyond max_bytes, the photo's file is left out first (a learner's
        runs are worth more than a photo they still have), then the oldest runs that are neither active nor
        training, one by one (unpinned ones first: keeping.drop_order), until it fits; Saved says what was left out."""
        session = StoredSession(**vars(session))
        session.runs = list(session.runs[-MAX_RUNS:])
        dropped = []
        data = session_bytes(session, now=now)
        photo_left_out = False
        if len(data) > self.max_bytes and session.photo:
            session.photo, session.photo_name, photo_left_out = None, "", True
            data = session_bytes(session, now=now)
        keep = {session.active, session.job.run_id if session.job else None}
        order = drop_order([r.id for r in session.runs], {r.id for r in session.runs if r.pinned}, keep)
        while len(data) > self.max_bytes:
            if not order:
                raise OSError(f"the session is {len(data) / 1e6:.1f} MB, over the store's {self.max_bytes / 1e6:.0f}")
            victim_id = order.pop(0)
            victim = next(r for r in session.runs if r.id == victim_id)
            session.runs.remove(victim)
            session.compare = [c for c in session.compare if c != victim.id]
            session.ended_unseen = None if session.ended_unseen == victim.id else session.ended_unseen
            dropped.append(victim.name)
            data = session_bytes(session, now=now)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)  # atomic: a reader (a reload, another replica's thread) sees old or new
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        return Saved(len(data), tuple(dropped), photo_left_out)

    def load(self, key: str, *, now: float | None = None) -> StoredSession | None:
        """The stored session, or None (none stored, or expired: then its file is deleted).

        SessionError when the file is damaged or not ours; the file is then deleted too (it can never load)."""
        path = self.path(key)
        now = time.time() if now is None else now
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        if now - mtime > self.ttl:
            self.delete(key)
            return None
        try:
            session = session_from_bytes(path)
        except SessionError:
            self.delete(key)
            raise
        if now - session.saved_at > self.ttl:
            self.delete(key)
            return None
        return session

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def purge(self, *, now: float | None = None) -> int:
        """Delete every session file (and left-over temporary file) older than the TTL; how many."""
        now = time.time() if now is None else now
        removed = 0
        if not self.folder.is_dir():
            return 0
        for path in self.folder.iterdir():
            if not (path.suffix in (".pt", ".part") and path.is_file()):
                continue
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > self.ttl:
                    path.unlink()
                    removed += 1
        return removed


__all__ = [
    "MAX_PHOTO_BYTES",
    "MAX_RUNS",
    "MAX_SESSION_BYTES",
    "TTL_SECONDS",
    "Saved",
    "SessionError",
    "SessionStore",
    "StoredJob",
    "StoredRun",
    "StoredSession",
    "default_dir",
    "file_name",
    "key_is_valid",
    "new_key",
    "photo_name",
    "session_bytes",
    "session_from_bytes",
]
