"""What every session of the server shares, made once per server process, then read-only.

* the data set: uint8 tensors mapped from data/'s tensor file (~55 MB), never copied per session;
* the training pool: worker processes that train the sessions' runs (fmnist_lib.jobs), each
  mapping the same tensor file;
* the default model: the tutorial's softmax regression, trained on first use (1-2 s) and saved in
  data/models, so later server starts load it (fmnist_lib.model_cache); active until the user
  trains or loads their own;
* the default model's test-set predictions and its calibration (Browse);
* the not-a-garment check (fmnist_lib.novelty): the training images' pixel model, and the default
  model's thresholds.

Each is a `Shared` value: made by its first caller under a lock (the warm-up thread when the
server starts, warmup.py, else the first page that needs it), every other caller waiting for that
one and getting the same object. Plain Python: the warm-up thread fills them without any Streamlit
call (Streamlit's guidance for threads). A page reads them through the accessors below, which show
a spinner while a value is still being made. Per-session things (runs, the active model) are in state.py.

One way to keep a per-server value: a `Shared` (here, or beside the one page that uses it), never
`st.cache_resource`. The warm-up thread makes these before any session exists, outside a script run,
where Streamlit's cache has no context to work in; a `Shared` is plain Python that a unit test can fill
or replace, takes no arguments to hash (a per-server default has none), and keeps no failure.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import streamlit as st

from fmnist_lib import DataError, FashionMNIST, TrainingRun, default_config, load_fashion_mnist
from fmnist_lib.analysis import Calibration, TestPredictions, calibrate, predict_test_set
from fmnist_lib.jobs import TrainingPool, default_workers
from fmnist_lib.loop import set_threads
from fmnist_lib.model_cache import cache_dir, fit_or_load
from fmnist_lib.novelty import NoveltyCheck, PixelModel, fit_check, fit_pixels, reference_images

from . import state

T = TypeVar("T")


class Shared(Generic[T]):
    """A value made once by `make`, on first use, under a lock. A failure is not kept: the next call tries again."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._value: T | None = None

    @property
    def ready(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
        return self._value

    def peek(self) -> T | None:
        """The value if it has been made, without making it."""
        return self._value


_set_up = threading.Lock()
_threads_set = False


def set_up() -> None:
    """Once per server process: torch's thread count for the server's own maths (FMNIST_THREADS, default 1).

    One thread: training runs in the worker processes, and the server's few forward passes (Browse,
    Upload) share the cores with them and the browsers; a second spinning torch thread costs more than it
    gives (see fmnist_lib.loop.set_threads)."""
    global _threads_set
    if _threads_set:  # every script run calls this: no lock once it is done
        return
    with _set_up:
        if not _threads_set:
            set_threads(int(os.environ.get("FMNIST_THREADS", "1")))
            _threads_set = True


def _make_pool() -> TrainingPool:
    # Each worker loads the data set itself: the tensor file the server wrote, mapped, not copied.
    return TrainingPool(default_workers(), functools.partial(load_fashion_mnist, download=False))


def _make_default_run() -> TrainingRun:
    # Its learning curve is never drawn: only the last epoch is evaluated on the test set.
    return fit_or_load(default_config("softmax"), DATA.get(), cache_dir(), test_every_epoch=False).run


def _make_default_predictions() -> TestPredictions:
    data = DATA.get()
    return predict_test_set(DEFAULT_RUN.get().classifier(), data.test_images, data.test_labels)


def _make_default_calibration() -> Calibration:
    data = DATA.get()
    return calibrate(DEFAULT_RUN.get().classifier(), data.test_images, data.test_labels)


def _make_pixels() -> PixelModel:
    return fit_pixels(reference_images(DATA.get().train_images))


def _make_default_novelty() -> NoveltyCheck:
    return fit_check(DEFAULT_RUN.get().classifier(), reference_images(DATA.get().train_images), PIXELS.get())


DATA: Shared[FashionMNIST] = Shared(load_fashion_mnist)
POOL: Shared[TrainingPool] = Shared(_make_pool)
DEFAULT_RUN: Shared[TrainingRun] = Shared(_make_default_run)
DEFAULT_PREDICTIONS: Shared[TestPredictions] = Shared(_make_default_predictions)
DEFAULT_CALIBRATION: Shared[Calibration] = Shared(_make_default_calibration)  # on first use (Browse), not at warm-up
PIXELS: Shared[PixelModel] = Shared(_make_pixels)
DEFAULT_NOVELTY: Shared[NoveltyCheck] = Shared(_make_default_novelty)


def warm_up() -> str:
    """Make everything now, in the order a first visitor needs it (see warmup.py). No Streamlit calls.

    Returns how the default model was got and how many workers train, for the server's log.
    """
    set_up()
    DATA.get()  # first: it writes the tensor file the workers map
    pool = POOL.get()  # the workers start importing torch while the default model is got here
    DEFAULT_PREDICTIONS.get()
    run = DEFAULT_RUN.get()
    DEFAULT_NOVELTY.get()  # Upload's not-a-garment check: a fraction of a second
    how = run.message.rstrip(".") or run.status
    acc = f"test accuracy {run.test_acc:.1%}" if run.test_acc is not None else "no test accuracy"
    workers = f"{pool.workers} training worker process(es)" if pool.workers else "training in a thread"
    return f"default model {how[:1].lower()}{how[1:]} ({acc}); {workers}."


def close() -> None:
    """Stop the training workers (server shutdown)."""
    pool = POOL.peek()
    if pool is not None:
        pool.close()


# --- for pages ---------------------------------------------------------------------------------


def _get(shared: Shared[T], spinner: str) -> T:
    if shared.ready:
        return shared.get()
    with st.spinner(spinner):
        return shared.get()


def dataset() -> FashionMNIST:
    """The dataset, or an error message and a stopped page if it cannot be found."""
    try:
        return _get(DATA, "Loading Fashion-MNIST (once per server)…")
    except DataError as e:
        st.error(f"**Fashion-MNIST could not be loaded.**\n\n```\n{e}\n```")
        st.stop()
        raise  # unreachable: st.stop() raises


def pool() -> TrainingPool:
    return _get(POOL, "Starting the training workers (once per server)…")


def default_run() -> TrainingRun:
    """The tutorial's model with the tutorial's settings (10 epochs of SGD, lr 0.1, batch 256).

    Loaded from data/models when an earlier start saved it, else trained now and saved there.
    """
    dataset()  # its own message if the data is missing
    return _get(DEFAULT_RUN, "Preparing the default softmax model (once per server, a second or two)…")


DEFAULT_NAME = "Default: softmax regression (the tutorial's settings)"


def active() -> tuple[str, TrainingRun, int | None]:
    """(name, run, run id) of the active model; run id None is the shared default model."""
    lab_run = state.find_run(state.active_id())
    if lab_run is not None and lab_run.run.history:
        return lab_run.name, lab_run.run, lab_run.id
    return DEFAULT_NAME, default_run(), None


def default_calibration() -> Calibration:
    """The default model's reliability and temperature fit on the test set, measured once per server."""
    default_run()
    return _get(DEFAULT_CALIBRATION, "Measuring the default model's calibration (once per server)…")


def predictions(run: TrainingRun, run_id: int | None) -> TestPredictions:
    """Test-set predictions of a run, computed once per model state (memo of the last one per session)."""
    if run_id is None:
        default_run()
        return _get(DEFAULT_PREDICTIONS, "Predicting the test set (once per server)…")
    data = dataset()
    return state.memo(
        state.PRED_MEMO,
        state.model_key(run_id, run),
        lambda: predict_test_set(run.classifier(), data.test_images, data.test_labels),
    )


def novelty(run: TrainingRun, run_id: int | None) -> NoveltyCheck:
    """The not-a-garment check of a run (its thresholds from its own logits), made once per model state."""
    if run_id is None:
        default_run()
        return _get(DEFAULT_NOVELTY, "Measuring how Fashion-MNIST looks to the model (once per server)…")
    data = dataset()
    pixels = _get(PIXELS, "Measuring how Fashion-MNIST looks (once per server)…")

    def make() -> NoveltyCheck:
        with st.spinner("Measuring how Fashion-MNIST looks to this model (once per model)…"):
            return fit_check(run.classifier(), reference_images(data.train_images), pixels)

    return state.memo(state.NOVELTY_MEMO, state.model_key(run_id, run), make)
