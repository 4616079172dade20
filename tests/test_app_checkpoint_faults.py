"""AppTest: a hostile checkpoint on the Train page is refused before any of it enters the session, and the
session's runs and the next clicks (the sidebar, other pages) keep working (issue 11).

Before the checkpoint checks, a history whose test_acc was the string "100%" loaded: the upload showed a
traceback, the run was already in the session, and the sidebar's f"{acc:.1%}" crashed every later click.
"""

from __future__ import annotations

import io

import pytest
import torch

from fmnist_lib import TrainingRun, checkpoint_bytes, default_config
from fmnist_lib.checkpoint import checkpoint_dict
from lab_ui import state
from lab_ui.layout import DEFAULT_OPTION
from tests.support.apptest import assert_ok, open_page, texts, upload_checkpoint
from tests.support.data import make_tiny_data

pytestmark = pytest.mark.integration


def _tiny_run() -> TrainingRun:
    run = TrainingRun(default_config("softmax", epochs=2, batch_size=8))
    run.fit(make_tiny_data())
    return run


def _with_history_value(run: TrainingRun, key: str, value) -> bytes:
    """The run's checkpoint with one field of its last epoch replaced, as a hand-edited file would have it."""
    d = checkpoint_dict(run)
    d["history"][-1][key] = value
    buf = io.BytesIO()
    torch.save(d, buf)
    return buf.getvalue()


def _runs(at):
    return at.session_state[state.RUNS] if state.RUNS in at.session_state else []  # noqa: SIM401 (no .get)


def test_a_checkpoint_claiming_test_acc_100_percent_is_refused_and_the_session_keeps_working():
    at = open_page("app_pages/train.py")
    good = _tiny_run()
    upload_checkpoint(at, "good.pt", checkpoint_bytes(good))
    assert_ok(at)
    (kept,) = _runs(at)
    assert at.session_state[state.ACTIVE] == kept.id

    upload_checkpoint(at, "hacked.pt", _with_history_value(good, "test_acc", "100%"))
    assert_ok(at)
    errors = " ".join(texts(at.error))
    assert "hacked.pt" in errors and "was refused" in errors
    assert "test_acc is '100%', not a number" in errors, errors
    assert [r.id for r in _runs(at)] == [kept.id], "nothing of the refused file entered the session"
    assert at.session_state[state.ACTIVE] == kept.id, "the active model is unchanged"

    # The next clicks: the sidebar's picker (it formats every run's accuracy) and the other pages.
    picker = state.widget_key(state.ACTIVE_PICK)
    at.selectbox(key=picker).set_value(DEFAULT_OPTION).run()
    assert_ok(at)
    assert at.session_state[state.ACTIVE] is None
    at.selectbox(key=picker).set_value(kept.id).run()
    assert_ok(at)
    for page in ("app_pages/home.py", "app_pages/browse.py", "app_pages/train.py"):
        at.switch_page(page).run()
        assert_ok(at)
        assert any("Active model" in t and f"{good.test_acc:.1%}" in t for t in texts(at.info)), page
    assert [r.id for r in _runs(at)] == [kept.id]


def test_a_checkpoint_with_a_non_finite_accuracy_is_refused_with_a_message():
    at = open_page("app_pages/train.py")
    upload_checkpoint(at, "nan.pt", _with_history_value(_tiny_run(), "test_acc", float("nan")))
    assert_ok(at)
    assert any("nan.pt" in t and "not a finite number" in t for t in texts(at.error)), texts(at.error)
    assert _runs(at) == []
    at.switch_page("app_pages/home.py").run()
    assert_ok(at)
