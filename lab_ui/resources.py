"""Resources shared by every session of the server (st.cache_resource), read-only.

* the dataset: loaded once per server as uint8 tensors (~55 MB), never copied per session;
* the default model: the tutorial's softmax regression, trained on first use (1-2 s) and
  saved in data/models, so later server starts load it (fmnist_lib.model_cache); active
  until the user trains or loads their own;
* the default model's test-set predictions.

Per-session things (runs, the active model) are in state.py.
"""

from __future__ import annotations

import os

import streamlit as st

from fmnist_lib import DataError, FashionMNIST, TrainingRun, default_config, load_fashion_mnist
from fmnist_lib.analysis import TestPredictions, predict_test_set
from fmnist_lib.loop import set_threads
from fmnist_lib.model_cache import cache_dir, fit_or_load

from . import state

# One torch thread in the server (FMNIST_THREADS overrides): the browser and other sessions
# share the cores, and a second spinning torch thread costs more than it gives (see set_threads).
set_threads(int(os.environ.get("FMNIST_THREADS", "1")))


@st.cache_resource(show_spinner="Loading Fashion-MNIST (once per server)…")
def _dataset() -> FashionMNIST:
    return load_fashion_mnist()


def dataset() -> FashionMNIST:
    """The dataset, or an error message and a stopped page if it cannot be found."""
    try:
        return _dataset()
    except DataError as e:
        st.error(f"**Fashion-MNIST could not be loaded.**\n\n```\n{e}\n```")
        st.stop()
        raise  # unreachable: st.stop() raises


@st.cache_resource(show_spinner="Preparing the default softmax model (once per server, a second or two)…")
def default_run() -> TrainingRun:
    """The tutorial's model with the tutorial's settings (10 epochs of SGD, lr 0.1, batch 256).

    Loaded from data/models when an earlier start saved it, else trained now and saved there.
    """
    # Trained with the server's one torch thread: two threads were faster only on an idle machine,
    # and up to 60 times slower while anything else (the browser drawing the page) used a core.
    # Its learning curve is never drawn: only the last epoch is evaluated on the test set.
    return fit_or_load(default_config("softmax"), _dataset(), cache_dir(), test_every_epoch=False).run


@st.cache_resource(show_spinner=False)
def _default_predictions() -> TestPredictions:
    data = _dataset()
    return predict_test_set(default_run().classifier(), data.test_images, data.test_labels)


def warm_up() -> str:
    """Load the data set, get the default model and predict the test set now (see warmup.py).

    Returns how the default model was got, for the server's log.
    """
    _default_predictions()
    run = default_run()
    how = run.message.rstrip(".") or run.status
    acc = f"test accuracy {run.test_acc:.1%}" if run.test_acc is not None else "no test accuracy"
    return f"default model {how[:1].lower()}{how[1:]} ({acc})."


DEFAULT_NAME = "Default: softmax regression (the tutorial's settings)"


def active() -> tuple[str, TrainingRun, int | None]:
    """(name, run, run id) of the active model; run id None is the shared default model."""
    lab_run = state.find_run(state.active_id())
    if lab_run is not None and lab_run.run.history:
        return lab_run.name, lab_run.run, lab_run.id
    return DEFAULT_NAME, default_run(), None


def predictions(run: TrainingRun, run_id: int | None) -> TestPredictions:
    """Test-set predictions of a run, computed once per model state (memo of the last one per session)."""
    if run_id is None:
        return _default_predictions()
    data = dataset()
    memo_key = (run_id, run.steps, run.epochs_done)
    memo = st.session_state.get(state.PRED_MEMO)
    if memo is None or memo[0] != memo_key:
        memo = (memo_key, predict_test_set(run.classifier(), data.test_images, data.test_labels))
        st.session_state[state.PRED_MEMO] = memo
    return memo[1]
