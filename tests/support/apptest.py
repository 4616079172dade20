"""Helpers for the AppTest tests of the dashboard (tests/test_app_*.py).

AppTest runs the real app script in-process, with the real data (marked
integration). A run trains in the server's worker processes: `train_until_done` reruns the app
the way the live panel's timer would, until the job is over.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab_ui import state

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
TIMEOUT = 120  # seconds per run: the first one loads the data and trains the default model


def upload_checkpoint(at: AppTest, name: str, data: bytes) -> AppTest:
    """Put a file into the Train page's "Load a checkpoint" uploader and rerun; the caller asserts."""
    at.file_uploader(key=state.CHECKPOINT_UPLOAD).set_value((name, data, "application/octet-stream"))
    return at.run()


def open_page(page: str | None = None) -> AppTest:
    """The app from its entry point, then (optionally) a page such as "app_pages/train.py"."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert_ok(at)
    if page is not None:
        at.switch_page(page).run()
        assert_ok(at)
    return at


def assert_ok(at: AppTest) -> None:
    if at.exception:
        pytest.fail("The app raised: " + "\n".join(str(e.value) for e in at.exception))


def job(at: AppTest):
    return at.session_state[state.JOB] if state.JOB in at.session_state else None  # noqa: SIM401 (no .get)


def rerun_until(at: AppTest, done, timeout: float, failure: str) -> AppTest:
    """Rerun the app, as the live panel's timer would, until `done(at)` or the session's job is over."""
    deadline = time.monotonic() + timeout
    while job(at) is not None and not done(at):
        if time.monotonic() > deadline:
            pytest.fail(f"{failure} within {timeout} s")
        time.sleep(0.1)
        at.run()
        assert_ok(at)
    return at


def train_until_done(at: AppTest, timeout: float = 300) -> AppTest:
    return rerun_until(at, lambda _: False, timeout, "Training did not finish")


def wait_for_epochs(at: AppTest, epochs: int, timeout: float = 120) -> AppTest:
    """Until the session's training run has `epochs` epochs (or its job is over)."""

    def enough(at: AppTest) -> bool:
        lab_run = next(r for r in at.session_state[state.RUNS] if r.id == job(at).run_id)
        return lab_run.run.epochs_done >= epochs

    return rerun_until(at, enough, timeout, f"No {epochs} epoch(s)")


def train_on_the_train_page(epochs: int = 1, augment: str | None = None) -> AppTest:
    """A fresh session that trains one run of the Train page's softmax defaults (epochs, and augment when
    given) to the end; the run is then the active model."""
    at = open_page("app_pages/train.py")
    set_widget(at, "slider", state.EPOCHS, epochs)
    if augment is not None:
        set_widget(at, "radio", state.AUGMENT, augment)
    at.button(key=state.TRAIN_BUTTON).click().run()
    train_until_done(at)
    if augment is not None:
        assert at.session_state[state.RUNS][-1].run.config.augment == augment
    return at


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def set_widget(at: AppTest, kind: str, name: str, value) -> AppTest:
    """Set a persistent widget (by its name in lab_ui.state) and rerun."""
    getattr(at, kind)(key=state.widget_key(name)).set_value(value)
    at.run()
    assert_ok(at)
    return at
