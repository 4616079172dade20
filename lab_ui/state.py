"""Every session-state key and widget key of the app, in one place, and the helpers that use them.

Two kinds of state live in ``st.session_state`` (per browser session):

* app state, under ``lab.*`` keys: the runs of the session, which model is
  active, the training job, small per-page memos. Plain Python objects, never
  the dataset (that is shared per server, see resources.py).
* widget values. Streamlit forgets a widget's value when the page that shows it
  is not rendered, so each widget has two keys: the widget's own key
  (``w.<name>``) and a stored copy (``lab.value.<name>``) that survives page
  switches and that any page can read (``get``). ``bind(name, default)`` returns
  the widget kwargs that keep them in sync: the stored value is passed as the
  widget's initial value (value=, index= or default=), on_change copies the
  widget's value back, and ``persist_state="session"`` (Streamlit >= 1.67) makes
  Streamlit itself keep the value while the widget is not drawn (a widget key
  seeded in session state on each remount is not enough: a remounted
  select_slider shows its first option). Code that changes a widget's value
  (Reset, a click on the confusion matrix) does it with ``put`` in a callback.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from fmnist_lib import DEFAULT_CONFIGS, TrainConfig, TrainingRun
from fmnist_lib.jobs import Job

from .labels import MODEL_TITLES, OPTIMIZER_TITLES

# --- app state ---------------------------------------------------------------
RUNS = "lab.runs"  # list[LabRun]: the runs of this session, oldest first
JOB = "lab.job"  # TrainJob while a run is being trained from the Train page, else None
RUN_COUNTER = "lab.run_counter"  # itertools.count for run ids
CHECKPOINT_SEEN = "lab.checkpoint_seen"  # file_id of the last checkpoint upload handled
PRED_MEMO = "lab.pred_memo"  # predictions of the active model on the test set
BROWSE_SEED = "lab.browse_seed"  # seed of the current random batch on Browse
UPLOAD_MEMO = "lab.upload_memo"  # the last upload, preprocessed (small thumbnails only)
LIVE_MEMO = "lab.live_memo"  # the Train page's latest charts and templates, by what they show
DROPPED = "lab.dropped"  # list[str]: the runs the latest add_run dropped (MAX_RUNS), named on the Train page
NOTICE = "lab.notice"  # (run id, stretch or None): whose training ended last; its summary is shown
LR_MOVED = "lab.lr_moved"  # True once the user moved the learning-rate slider (until Reset or a model change)

# --- widgets whose values persist across pages (name -> widget key "w.<name>") ---
# Train
MODEL = "train.model"
LR = "train.lr"
EPOCHS = "train.epochs"
BATCH = "train.batch_size"
OPTIMIZER = "train.optimizer"
WEIGHT_DECAY = "train.weight_decay"
SCHEDULE = "train.schedule"
SEED = "train.seed"
AUGMENT = "train.augment"
COMPARE = "train.compare"  # run ids overlaid in the comparison chart
ACC_ZOOM = "train.acc_zoom"  # accuracy axis fitted to the curves (the default) instead of 0-100%
# Browse
BATCH_SIZE = "browse.batch_size"
VIEW = "browse.view"
CELL_TRUE = "browse.cell_true"
CELL_PRED = "browse.cell_pred"
# Upload
TEMPERATURE = "upload.temperature"
USE_CAMERA = "upload.use_camera"
MIRROR = "upload.mirror"  # mirror-aware Top-3 (the garment read facing Fashion-MNIST's way)
# Inside softmax (and calibration on Browse)
INSIDE_SOURCE = "inside.source"  # random | index | upload
INSIDE_INDEX = "inside.index"  # the test image chosen by index
INSIDE_CLASS = "inside.upload_class"  # the class the learner says their photo shows
INSIDE_TEMPERATURE = "inside.temperature"
INSIDE_SHIFT = "inside.shift"  # the constant added to every logit in the stability demo
INSIDE_LR = "inside.lr"  # the learning rate of the one-step demo
INSIDE_RANDOM = "lab.inside_random"  # index of the current random test image
INSIDE_STEP = "lab.inside_step"  # (key, StepResult) of the last one-step demo
CALIBRATION_MEMO = "lab.calibration_memo"  # (model key, Calibration) of the active model
INSIDE_RANDOM_BUTTON = "w.inside.random"
INSIDE_STEP_BUTTON = "w.inside.step"
# Sidebar
ACTIVE_PICK = "sidebar.active"
ACTIVE = "lab.value.sidebar.active"  # id of the active LabRun, or None for the default model

# Widgets that are not persisted (buttons, uploaders, chart selections)
TRAIN_BUTTON = "w.train.train"
STOP_BUTTON = "w.train.stop"
CONTINUE_BUTTON = "w.train.continue"
RESET_BUTTON = "w.train.reset"
CHECKPOINT_UPLOAD = "w.train.checkpoint_upload"
NEW_BATCH_BUTTON = "w.browse.new_batch"
CONFUSION_CHART = "w.browse.confusion"
IMAGE_UPLOAD = "w.upload.file"
CAMERA = "w.upload.camera"


def widget_key(name: str) -> str:
    return f"w.{name}"


def value_key(name: str) -> str:
    return f"lab.value.{name}"


def get(name: str, default: Any = None) -> Any:
    """The stored value of a persistent widget (whether or not its page is shown)."""
    return st.session_state.get(value_key(name), default)


def put(name: str, value: Any) -> None:
    """Set a persistent widget's value. Call from callbacks or before the widget is drawn."""
    st.session_state[value_key(name)] = value
    st.session_state[widget_key(name)] = value


def bind(name: str, default: Any, *, options=None, arg: str = "value", on_change=None) -> dict:
    """kwargs for a widget whose value survives page switches: key, on_change, persist_state and
    its initial value as `arg` ("value"; "default" for multiselect) or, given `options`
    (radio, selectbox), as index=. Pass no other value/index to the widget."""
    ss = st.session_state
    vkey, wkey = value_key(name), widget_key(name)
    stored = ss.setdefault(vkey, default)

    def _sync() -> None:
        ss[vkey] = ss[wkey]
        if on_change is not None:
            on_change()

    kwargs = {"key": wkey, "on_change": _sync, "persist_state": "session"}
    if options is not None:
        opts = list(options)
        kwargs["index"] = opts.index(stored) if stored in opts else 0
    else:
        kwargs[arg] = stored
    return kwargs


def _compare_key(run_ids: list[int]) -> str:
    return f"{widget_key(COMPARE)}.{'-'.join(map(str, run_ids))}"


def bind_compare(run_ids: list[int]) -> dict:
    """kwargs of the "Compare runs" multiselect. Its widget key changes whenever the set of runs
    changes, so a new run joins the comparison through the new widget's default instead of
    by writing into a live widget (a rerun sent by the browser mid-training would undo that).
    The browser may still report the old widget's value once: that change is ignored."""
    ss = st.session_state
    vkey = value_key(COMPARE)
    stored = [i for i in ss.get(vkey, []) if i in run_ids]
    ss[vkey] = stored
    wkey = _compare_key(run_ids)

    def _sync() -> None:
        if wkey == _compare_key([r.id for r in runs()]):
            ss[vkey] = ss[wkey]

    return {"key": wkey, "on_change": _sync, "default": stored}


# --- runs ----------------------------------------------------------------------
MAX_RUNS = 8  # runs kept per session (oldest dropped first): bounds memory per session


@dataclass
class LabRun:
    """A run of this session: a TrainingRun with an id and a name for the UI."""

    id: int
    name: str
    run: TrainingRun
    origin: str = "trained"  # "trained" here or "checkpoint" (uploaded)


@dataclass
class TrainJob:
    """The session's training in progress: which run, its job in the server's pool (lab_ui/training.py)."""

    run_id: int
    target_epochs: int  # train until the run has this many epochs
    job: Job | None = None  # the pool's job; its view() is read on every script run
    stop_requested: bool = False  # Stop was pressed
    pause_reason: str | None = None  # why the job was ended without Stop (the user left the page, say)
    started: float = 0.0  # time.perf_counter() of the click on Train / Continue
    start_epochs: int = 0  # the run's epochs at that click (the stretch of this press is told apart)
    taken: dict | None = field(default=None, repr=False)  # the job's snapshot the run last took


def runs() -> list[LabRun]:
    return st.session_state.setdefault(RUNS, [])


def find_run(run_id: int | None) -> LabRun | None:
    if run_id is None:
        return None
    return next((r for r in runs() if r.id == run_id), None)


def add_run(run: TrainingRun, origin: str = "trained", name: str | None = None) -> LabRun:
    counter = st.session_state.setdefault(RUN_COUNTER, itertools.count(1))
    rid = next(counter)
    kept = runs()
    if name is None:
        name = run_name(rid, run.config, [r.run.config for r in kept])
    lab_run = LabRun(rid, name, run, origin)
    kept.append(lab_run)
    # Drop the oldest runs beyond MAX_RUNS, never the active one or the one training.
    job = st.session_state.get(JOB)
    protected = {st.session_state.get(ACTIVE), job.run_id if job else None, rid}
    dropped = []
    while len(kept) > MAX_RUNS:
        victim = next((r for r in kept if r.id not in protected), None)
        if victim is None:
            break
        kept.remove(victim)
        dropped.append(victim.name)
    # Never silently: the Train page names them until the next run is added (session_runs.dropped_notice).
    st.session_state[DROPPED] = dropped
    return lab_run


_SHORT_MODEL = {"softmax": "Softmax", "cnn": "CNN"}  # names go into chart legends: every character counts

# The settings a run name may mention, in the order it mentions them, each with how it reads.
_NAME_PARTS = (
    ("batch_size", lambda v: f"batch {v}"),
    ("epochs", lambda v: f"{v} epochs"),
    ("weight_decay", lambda v: f"weight decay {v:g}"),
    ("schedule", lambda v: f"{v} schedule"),
    ("seed", lambda v: f"seed {v}"),
)


def run_name(rid: int, config: TrainConfig, others: list[TrainConfig]) -> str:
    """A run's name: "#3 Softmax · Adam lr 0.001 · batch 64 · seed 2".

    The model, optimizer and learning rate always; any other setting when it differs from the
    model's default or from one of the session's other runs of that model. So two runs with
    different settings never share a name (past the #id), and a name says what sets a run apart."""
    default = DEFAULT_CONFIGS[config.model]
    same_model = [o for o in others if o.model == config.model]
    parts = [
        f"#{rid} {_SHORT_MODEL.get(config.model, MODEL_TITLES[config.model])}",
        f"{OPTIMIZER_TITLES[config.optimizer]} lr {config.lr:g}",
    ]
    for field_name, say in _NAME_PARTS:
        value = getattr(config, field_name)
        if value != getattr(default, field_name) or any(getattr(o, field_name) != value for o in same_model):
            parts.append(say(value))
    return " · ".join(parts)


def active_id() -> int | None:
    rid = st.session_state.get(ACTIVE)
    return rid if find_run(rid) is not None else None


def set_active(run_id: int | None) -> None:
    """Make a run (None: the default model) active; the sidebar picker follows on the next run."""
    st.session_state[ACTIVE] = run_id  # the sidebar picker copies it into its widget before drawing


def job() -> TrainJob | None:
    return st.session_state.get(JOB)


def memo(name: str, key: Any, make: Callable[[], Any]) -> Any:
    """The value `make()` gave for `key`, kept in session state under `name` until the key changes (one
    value per name: the last model state's predictions, say)."""
    kept = st.session_state.get(name)
    if kept is None or kept[0] != key:
        kept = (key, make())
        st.session_state[name] = kept
    return kept[1]
