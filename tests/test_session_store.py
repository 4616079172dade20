"""fmnist_lib.session_store: a session's runs to disk and back, bounded, expiring, atomic, refusing bad files."""

from __future__ import annotations

import io
import os
import pickle
import time

import numpy as np
import pytest
import torch

from fmnist_lib import TrainingRun, default_config
from fmnist_lib import session_store as ss
from fmnist_lib.session_store import SessionError, SessionStore, StoredJob, StoredRun, StoredSession
from tests.support.checkpoints import evil

KEY = ss.new_key()


def _session(tiny_data, n_runs: int = 2, *, model: str = "softmax") -> StoredSession:
    runs = []
    for i in range(1, n_runs + 1):
        run = TrainingRun(default_config(model, epochs=2, batch_size=16, seed=i))
        run.fit(tiny_data, epochs=1)  # one of two epochs: stopped, Continue trains on
        runs.append(StoredRun(i, f"#{i} Softmax · seed {i}", "trained", run))
    photo = {"ours": np.arange(784, dtype=np.uint8).reshape(28, 28)}
    return StoredSession(runs, active=1, compare=[1, 2][:n_runs], upload=photo, upload_digest="abc")


def test_round_trip_keeps_every_run_the_choices_the_photo_and_the_job(tiny_data, tmp_path):
    session = _session(tiny_data)
    session.runs[1].run.pause("you left the Train page")
    session.job = StoredJob(run_id=2, job_id=7, target_epochs=2, start_epochs=1)
    store = SessionStore(tmp_path)
    store.save(KEY, session)
    back = store.load(KEY)
    assert [r.id for r in back.runs] == [1, 2] and [r.name for r in back.runs] == [r.name for r in session.runs]
    for a, b in zip(session.runs, back.runs, strict=True):
        assert a.run.config == b.run.config and a.run.steps == b.run.steps
        assert [e.to_dict() for e in a.run.history] == [e.to_dict() for e in b.run.history]
        for (k, v), (k2, v2) in zip(a.run.model.state_dict().items(), b.run.model.state_dict().items(), strict=True):
            assert k == k2 and torch.equal(v, v2)
        assert b.run.status == a.run.status and b.run.message == a.run.message
    assert back.runs[1].run.paused_because == "you left the Train page"
    assert back.active == 1 and back.compare == [1, 2]
    assert np.array_equal(back.upload["ours"], session.upload["ours"]) and back.upload_digest == "abc"
    assert back.job == session.job


def test_the_last_photos_file_comes_back_byte_for_byte_with_its_name(tiny_data, tmp_path):
    session = _session(tiny_data, 1)
    session.photo, session.photo_name = bytes(range(256)) * 40, "my shirt.jpg"
    store = SessionStore(tmp_path)
    store.save(KEY, session)
    back = store.load(KEY)
    assert back.photo == session.photo and back.photo_name == "my shirt.jpg"
    # Without a photo the file has no "photo" field at all, as a session saved before photos were kept.
    plain = torch.load(io.BytesIO(ss.session_bytes(_session(tiny_data, 1))), weights_only=True)
    assert "photo" not in plain
    assert ss.session_from_bytes(_torch_bytes(plain)).photo is None


def test_a_photo_name_is_stored_as_printable_text():
    assert ss.photo_name("a\nb\x00.png") == "a?b?.png"
    assert ss.photo_name("x" * 500) == "x" * ss.MAX_NAME and ss.photo_name("") == "photo"


def test_a_run_stored_mid_training_comes_back_stopped(tiny_data):
    session = _session(tiny_data, 1)
    session.runs[0].run.status = "running"
    assert ss.session_from_bytes(ss.session_bytes(session)).runs[0].run.status == "stopped"


def test_the_file_is_named_by_a_hash_never_by_the_key(tiny_data, tmp_path):
    store = SessionStore(tmp_path)
    store.save(KEY, _session(tiny_data, 1))
    names = os.listdir(tmp_path)
    assert names == [ss.file_name(KEY)]
    assert KEY not in names[0] and KEY.encode() not in (tmp_path / names[0]).read_bytes()


def test_keys_are_unguessable_and_checked():
    keys = {ss.new_key() for _ in range(100)}
    assert len(keys) == 100 and all(ss.key_is_valid(k) and len(k) >= 43 for k in keys)
    for bad in ("", "short", "../" * 20, "a" * 31, None, 42, "x" * 40 + "/"):
        assert not ss.key_is_valid(bad)
        with pytest.raises(ValueError):
            SessionStore("/tmp").path(bad)


def test_a_session_not_saved_for_the_ttl_is_forgotten_and_its_file_deleted(tiny_data, tmp_path):
    store = SessionStore(tmp_path, ttl=3600)
    store.save(KEY, _session(tiny_data, 1))
    assert store.load(KEY, now=time.time() + 3000) is not None
    assert store.load(KEY, now=time.time() + 3700) is None
    assert os.listdir(tmp_path) == []


def test_purge_deletes_expired_files_and_left_over_parts(tiny_data, tmp_path):
    store = SessionStore(tmp_path, ttl=60)
    store.save(KEY, _session(tiny_data, 1))
    (tmp_path / ".x.pt.1.part").write_bytes(b"half")
    assert store.purge(now=time.time() + 30) == 0
    assert store.purge(now=time.time() + 120) == 2 and os.listdir(tmp_path) == []


def test_reset_deletes_the_stored_session(tiny_data, tmp_path):
    store = SessionStore(tmp_path)
    store.save(KEY, _session(tiny_data, 1))
    store.delete(KEY)
    assert store.load(KEY) is None and os.listdir(tmp_path) == []
    store.delete(KEY)  # twice: no error


def test_count_bound_keeps_the_newest_runs(tiny_data):
    session = _session(tiny_data, ss.MAX_RUNS + 2)
    session.compare, session.active = [], None
    back = ss.session_from_bytes(ss.session_bytes(session))
    assert [r.id for r in back.runs] == list(range(3, ss.MAX_RUNS + 3))


def test_byte_bound_leaves_out_the_oldest_runs_but_never_the_active_one(tiny_data, tmp_path):
    session = _session(tiny_data, 4)
    session.active, session.compare = 1, [1, 2, 3]
    one = len(ss.session_bytes(_session(tiny_data, 1)))
    store = SessionStore(tmp_path, max_bytes=int(one * 2.5))
    saved = store.save(KEY, session)
    back = store.load(KEY)
    assert saved.size <= store.max_bytes and saved.dropped == ("#2 Softmax · seed 2", "#3 Softmax · seed 3")
    assert [r.id for r in back.runs] == [1, 4] and back.compare == [1]


def test_pins_and_a_job_that_ended_unseen_are_kept_and_older_files_without_them_still_load(tiny_data):
    session = _session(tiny_data, 2)
    session.runs[0].pinned, session.ended_unseen = True, 2
    back = ss.session_from_bytes(ss.session_bytes(session))
    assert [r.pinned for r in back.runs] == [True, False] and back.ended_unseen == 2

    def older(o):  # a file saved before pins and unseen endings existed
        del o["ended_unseen"]
        for r in o["runs"]:
            del r["pinned"]

    back = ss.session_from_bytes(_tampered(tiny_data, older))
    assert [r.pinned for r in back.runs] == [False, False] and back.ended_unseen is None


def test_byte_bound_leaves_out_unpinned_runs_before_pinned_ones(tiny_data, tmp_path):
    session = _session(tiny_data, 4)
    session.active, session.compare = 4, []
    session.runs[0].pinned = True  # the oldest, kept by the learner
    one = len(ss.session_bytes(_session(tiny_data, 1)))
    saved = SessionStore(tmp_path, max_bytes=int(one * 2.5)).save(KEY, session)
    assert saved.dropped == ("#2 Softmax · seed 2", "#3 Softmax · seed 3")


def test_byte_bound_leaves_out_the_photos_file_before_any_run(tiny_data, tmp_path):
    session = _session(tiny_data, 2)
    session.photo, session.photo_name = b"\xff" * 200_000, "big.jpg"
    without = len(ss.session_bytes(_session(tiny_data, 2)))
    store = SessionStore(tmp_path, max_bytes=without + 1000)
    saved = store.save(KEY, session)
    back = store.load(KEY)
    assert saved.photo_left_out and saved.dropped == ()
    assert back.photo is None and [r.id for r in back.runs] == [1, 2]
    assert np.array_equal(back.upload["ours"], session.upload["ours"])  # its 28x28 input is kept
    assert not SessionStore(tmp_path).save(KEY, session).photo_left_out  # room enough: kept


def test_a_write_that_fails_leaves_the_old_file_whole_and_no_temporary_file(tiny_data, tmp_path, monkeypatch):
    store = SessionStore(tmp_path)
    store.save(KEY, _session(tiny_data, 1))
    before = (tmp_path / ss.file_name(KEY)).read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ss.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        store.save(KEY, _session(tiny_data, 2))
    assert os.listdir(tmp_path) == [ss.file_name(KEY)]
    assert (tmp_path / ss.file_name(KEY)).read_bytes() == before


def _store_with(tmp_path, data: bytes) -> SessionStore:
    store = SessionStore(tmp_path)
    (tmp_path / ss.file_name(KEY)).write_bytes(data)
    return store


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "truncated or damaged"),
        (lambda b: b"", "empty"),
        (lambda b: b"hello, not a session", "not a checkpoint saved by this app"),
    ],
)
def test_a_damaged_store_file_is_refused_with_a_message_and_deleted(tiny_data, tmp_path, damage, message):
    store = _store_with(tmp_path, damage(ss.session_bytes(_session(tiny_data, 1))))
    with pytest.raises(SessionError, match=message):
        store.load(KEY)
    assert os.listdir(tmp_path) == []


def test_a_file_carrying_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    store = _store_with(tmp_path, pickle.dumps(evil(marker)))
    with pytest.raises(SessionError, match="could run code"):
        store.load(KEY)
    assert not marker.exists()


def test_a_checkpoint_is_not_a_session(tiny_data):
    from fmnist_lib.checkpoint import checkpoint_bytes

    with pytest.raises(SessionError, match="not a session saved by this app"):
        ss.session_from_bytes(checkpoint_bytes(TrainingRun(default_config("softmax"))))


def _tampered(tiny_data, change) -> bytes:
    """A session's dict, changed by hand and saved again (plain data: it passes the unpickler)."""
    session = _session(tiny_data, 2)
    obj = torch.load(io.BytesIO(ss.session_bytes(session)), weights_only=True)
    change(obj)
    return _torch_bytes(obj)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o["runs"][0].update(status="hacked"), "status 'hacked' is not one of"),
        (lambda o: o["runs"][0].update(name="<script>" * 50), "name"),
        (lambda o: o["runs"][1].update(id=1), "same id"),
        (lambda o: o.update(active=99), "active run 99 is not one of its runs"),
        (lambda o: o.update(compare=[5]), "compare selection"),
        (lambda o: o["runs"][0]["checkpoint"]["history"][0].update(test_acc="100%"), "Run 1 of the session: History"),
        (
            lambda o: o["runs"][0]["checkpoint"]["state_dict"].update({"linear.bias": torch.full((10,), float("nan"))}),
            "NaN",
        ),
        (lambda o: o["upload"]["pixels"].update(ours=torch.zeros(3, 3)), "28x28"),
        (lambda o: o.update(photo={"name": "a.png", "data": torch.zeros(4, 4, dtype=torch.uint8)}), "photo file"),
        (lambda o: o.update(photo={"name": "a.png", "data": torch.zeros(4)}), "photo file"),
        (lambda o: o.update(photo={"name": "", "data": torch.zeros(4, dtype=torch.uint8)}), "photo file name"),
        (lambda o: o.update(photo={"data": torch.zeros(4, dtype=torch.uint8)}), "photo file lacks name"),
        (lambda o: o.update(photo=b"raw bytes"), "photo file"),
        (lambda o: o.update(job={"run_id": 5}), "training job"),
        (lambda o: o.update(runs=o["runs"] * 5), "at most 8 are read"),
        (lambda o: o.update(extra=1), "unexpected fields"),
        (lambda o: o["runs"][0].update(pinned="yes"), "its pin is not true or false"),
        (lambda o: o.update(ended_unseen=9), "ended unseen, 9, is not one of its runs"),
        (lambda o: o.update(version=2), "Unsupported session version 2"),
    ],
)
def test_hand_made_sessions_are_refused_with_a_message(tiny_data, change, message):
    with pytest.raises(SessionError, match=message):
        ss.session_from_bytes(_tampered(tiny_data, change))


def test_a_photo_over_the_upload_limit_is_refused(tiny_data, monkeypatch):
    monkeypatch.setattr(ss, "MAX_PHOTO_BYTES", 100)
    session = _session(tiny_data, 1)
    session.photo, session.photo_name = b"x" * 101, "big.png"
    with pytest.raises(SessionError, match="upload limit"):
        ss.session_from_bytes(ss.session_bytes(session))
    session.photo = b"x" * 100
    assert ss.session_from_bytes(ss.session_bytes(session)).photo == b"x" * 100


def test_default_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(ss.ENV_VAR, str(tmp_path / "s"))
    assert ss.default_dir() == tmp_path / "s"
    monkeypatch.delenv(ss.ENV_VAR)
    assert ss.default_dir() == ss.DEFAULT_DIR
