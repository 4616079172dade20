"""lab_ui.persist in AppTest: a new session of the same browser (the same key) gets the runs back;
a session without a key stores nothing; a session file is refused or loaded with a message."""

from __future__ import annotations

import os

import pytest

from fmnist_lib import session_store
from lab_ui import persist, state
from tests.support.apptest import assert_ok, job, open_page, set_widget, texts, train_on_the_train_page

KEY = session_store.new_key()


@pytest.fixture
def keyed(tmp_path, monkeypatch):
    """A browser with a session key (AppTest has no cookies: the key is given) and a store of its own."""
    monkeypatch.setattr(persist, "_store", session_store.SessionStore(tmp_path))
    monkeypatch.setattr(persist, "session_key", lambda: KEY)
    return tmp_path


def test_a_new_session_of_the_same_browser_gets_the_runs_and_the_active_model_back(keyed):
    first = train_on_the_train_page(epochs=1)
    trained = first.session_state[state.RUNS][0]
    assert os.listdir(keyed) == [session_store.file_name(KEY)]

    again = open_page("app_pages/train.py")  # a reload: a new Streamlit session, the same cookie
    back = again.session_state[state.RUNS]
    assert [(r.id, r.name, r.run.epochs_done, r.run.status) for r in back] == [
        (trained.id, trained.name, 1, "finished")
    ]
    assert again.session_state[state.ACTIVE] == trained.id
    assert any("Active model:** #1" in t for t in texts(again.info))


def test_forget_removes_the_runs_and_the_stored_file(keyed):
    at = train_on_the_train_page(epochs=1)
    at.button(key=state.FORGET_BUTTON).click().run()
    assert_ok(at)
    assert state.RUNS not in at.session_state or at.session_state[state.RUNS] == []
    assert os.listdir(keyed) == []
    assert open_page("app_pages/train.py").session_state[state.RUNS] == []


def test_without_a_key_nothing_is_stored(tmp_path, monkeypatch):
    monkeypatch.setattr(persist, "_store", session_store.SessionStore(tmp_path))
    train_on_the_train_page(epochs=1)
    assert os.listdir(tmp_path) == []


def test_a_damaged_stored_session_is_discarded_with_a_message(keyed):
    (keyed / session_store.file_name(KEY)).write_bytes(b"PK\x03\x04 cut short")
    at = open_page()  # the first page run of the session says it (once)
    assert any("could not be read" in t and "truncated or damaged" in t for t in texts(at.warning))
    assert os.listdir(keyed) == []


def test_a_session_file_is_loaded_with_every_run_and_a_bad_one_is_refused(keyed):
    at = train_on_the_train_page(epochs=1)
    data = session_store.session_bytes(persist_session(at))
    fresh = open_page("app_pages/train.py")
    fresh.file_uploader(key=state.SESSION_FILE_UPLOAD).set_value(("s.pt", b"not a session", "application/x"))
    fresh.run()
    assert any("was refused" in t for t in texts(fresh.error))
    fresh.file_uploader(key=state.SESSION_FILE_UPLOAD).set_value(("s.pt", data, "application/octet-stream"))
    fresh.run()
    assert_ok(fresh)
    names = [r.name for r in fresh.session_state[state.RUNS]]
    assert len(names) == 2 and names[0].startswith("#1 ") and names[1].startswith("#2 ")  # its own run, then the file's


def persist_session(at) -> session_store.StoredSession:
    runs = [session_store.StoredRun(r.id, r.name, r.origin, r.run) for r in at.session_state[state.RUNS]]
    return session_store.StoredSession(runs)


def test_a_run_that_finished_while_its_tab_was_closed_is_told_once_on_return(keyed):
    import re
    import time

    at = open_page("app_pages/train.py")
    set_widget(at, "slider", state.EPOCHS, 2)
    at.button(key=state.TRAIN_BUTTON).click().run()
    assert_ok(at)
    name = at.session_state[state.RUNS][0].name
    job(at).job.wait_done(timeout=120)  # the tab is closed: nobody reruns `at`; the job ends in its worker
    deadline = time.monotonic() + 30  # and the server's thread stores its result
    while persist.store().load(KEY).job is not None:
        assert time.monotonic() < deadline, "the ended job's result was not stored"
        time.sleep(0.1)

    back = open_page()  # the learner comes back (any page)
    told = [t for t in texts(back.success) if "while you were away" in t]
    assert len(told) == 1 and re.fullmatch(r"Finished while you were away: .+, test accuracy \d+\.\d%\.", told[0])
    assert name.split(" ")[0] in told[0]  # "#1"
    assert back.session_state[state.RUNS][0].run.status == "finished"
    back.run()
    assert not [t for t in texts(back.success) if "while you were away" in t], "once"
    assert not [t for t in texts(open_page().success) if "while you were away" in t], "not again after a reload"


def test_a_session_file_with_no_room_beside_kept_runs_says_what_to_do(session_state, tiny_data):
    from fmnist_lib import TrainingRun, default_config

    for _ in range(state.MAX_RUNS):
        state.set_pinned(state.add_run(TrainingRun(default_config("softmax"))).id, True)
    run = TrainingRun(default_config("softmax", epochs=1))
    run.fit(tiny_data)
    data = session_store.session_bytes(
        session_store.StoredSession([session_store.StoredRun(1, "#1 S", "trained", run)])
    )
    level, message = persist.load_session_file(data)
    assert level == "error" and "Loaded 0 of the file's 1 runs" in message and "unpin or delete" in message
    assert len(state.runs()) == state.MAX_RUNS and all(r.pinned for r in state.runs())


def test_a_reload_brings_the_last_photo_back_on_upload_and_inside_softmax(keyed):
    from tests.support.images import encode, garment

    first = open_page("app_pages/upload.py")
    first.file_uploader(key=state.IMAGE_UPLOAD).set_value(("my shirt.png", encode(garment(), "PNG"), "image/png"))
    first.run()
    assert_ok(first)
    answer = [t for t in texts(first.success) if t.startswith("Predicted: ")]
    assert answer

    again = open_page("app_pages/upload.py")  # a reload: a new Streamlit session, the same cookie
    assert [t for t in texts(again.success) if t.startswith("Predicted: ")] == answer
    assert "Your last photo: **my shirt.png**" in texts(again.markdown)
    inside = open_page("app_pages/softmax.py")
    inside.radio(key=state.widget_key(state.INSIDE_SOURCE)).set_value("upload").run()
    assert any(t.startswith("Your last photo on Upload") for t in texts(inside.markdown))

    again.button(key=state.FORGET_PHOTO_BUTTON).click().run()  # forgotten: gone from the store too
    assert_ok(again)
    assert state.UPLOAD_PHOTO not in open_page("app_pages/upload.py").session_state


def test_a_keyless_job_lives_while_its_connection_is_open_or_just_closed_then_is_stopped(monkeypatch):
    """No session key (no cookie): nothing can bring the session back once its tab's connection has closed, so
    the pool's keep_alive says stop after GRACE_SECONDS (a reconnect within them reads the job again)."""
    import time
    from types import SimpleNamespace

    from lab_ui import session_cookie

    job = SimpleNamespace(read_at=time.monotonic() - 600)  # unread for ten minutes
    train_job = state.TrainJob(run_id=1, target_epochs=5, connection="conn-keyless-test")
    session_cookie._opened("conn-keyless-test")
    assert persist._connection_alive(train_job, job), "its tab is open"
    session_cookie._gone("conn-keyless-test")
    assert persist._connection_alive(train_job, job), "just closed: a reconnect may still come"
    monkeypatch.setattr(session_cookie, "closed_for", lambda c: persist.GRACE_SECONDS + 0.1)
    assert not persist._connection_alive(train_job, job), "closed and unread for longer than the grace"
    job.read_at = time.monotonic()
    assert persist._connection_alive(train_job, job), "read a moment ago (by a reconnected tab)"
