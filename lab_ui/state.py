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

The settings that decide what a page shows are also in its URL (``URL_SETTINGS``: the
parameters of ``fmnist_lib.links.PAGES``), so a link is an experiment: ``train?lr=10&seed=7``.
``open_url(page)`` runs before each full run of a page (lab_ui/layout.py):

* the page was just opened (a new session, a click in the navigation, a ``st.page_link``, the
  Back button): a URL with a query is a link. ``links.read_query`` checks it; the page takes
  its values, its defaults for what the link leaves out or had to ignore, and keeps one note
  per ignored parameter (``url_notes``, shown by lab_ui/share.py). A URL without a query (the
  navigation drops it) means the page's own settings, kept in session state;
  Streamlit's navigation pushes a history entry of the new page with the *previous* page's query
  before the page writes its own: a query this session wrote for another page is such an entry,
  never a link, and is taken as no query (so Back can show a page once more without moving);
* the same page again: the widgets are the truth. The address bar is read only when it differs
  from what this session last wrote and no callback changed a setting in between (the Back
  button within a page); otherwise it is a URL the browser had not caught up with yet.

Then ``write_url`` puts the page's settings (those equal to a default left out) into the address
bar. Callbacks (``bind``'s and ``put``) write it at once, so a widget in a fragment, which
does not rerun the page, is followed too.

Why not Streamlit's own ``bind="query-params"`` (1.55+): its URL name is the widget's key
(two pages have a ``batch``, and keys here are ``w.<name>``); it leaves out a value equal to the
widget's *initial* value, which here is the value kept across pages, so a kept setting would
vanish from the link (streamlit/streamlit#14350); it drops a bad value silently, where a learner must be
told what was ignored; and Train's defaults depend on the model. One reader and one writer of
``st.query_params`` here see every case: Reset, the optimizer's learning rate, Train's live
reruns (a fragment: the page is not reread), a link from the Lesson page.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import streamlit as st

from fmnist_lib import DEFAULT_CONFIGS, TrainConfig, TrainingRun, keeping, links
from fmnist_lib.jobs import Job
from fmnist_lib.words import plural

from .labels import MODEL_TITLES, OPTIMIZER_TITLES

if TYPE_CHECKING:  # annotations only: state is imported by every page
    import numpy as np
    from PIL import Image

# --- app state ---------------------------------------------------------------
RUNS = "lab.runs"  # list[LabRun]: the runs of this session, oldest first
JOB = "lab.job"  # TrainJob while a run is being trained from the Train page, else None
RUN_COUNTER = "lab.run_counter"  # itertools.count for run ids
CHECKPOINT_SEEN = "lab.checkpoint_seen"  # file_id of the last checkpoint upload handled
PRED_MEMO = "lab.pred_memo"  # predictions of the active model on the test set
UPLOAD_MEMO = "lab.upload_memo"  # the last upload, preprocessed (small thumbnails only)
# The last photo's file (state.Photo: name and bytes, at most the upload limit): the uploader forgets its
# file when Upload is not drawn, so Upload shows this one again after a page switch (and persist.py a reload)
UPLOAD_PHOTO = "lab.upload_photo"
INSIDE_CLASS_FOR = "lab.inside_class_for"  # the photo (its digest) the class picked on Inside softmax is for
TUTORIAL_MEMO = "lab.tutorial_memo"  # (model key, tutorial_scaling.OnTestSet) of the active model
NOVELTY_MEMO = "lab.novelty_memo"  # the active model's not-a-garment check (fmnist_lib.novelty)
LIVE_MEMO = "lab.live_memo"  # the Train page's latest charts and templates, by what they show
DROPPED = "lab.dropped"  # list[str]: the runs the latest add_run dropped (MAX_RUNS), named on the Train page
NOTICE = "lab.notice"  # (run id, stretch or None): whose training ended last; its summary is shown
LR_MOVED = "lab.lr_moved"  # True once the user moved the learning-rate slider (until Reset or a model change)
EVENTS = "lab.events"  # set[str]: what the learner saw or opened, for the lesson's checks (record_event)
LESSON_RUNS = "lab.lesson_runs"  # dict run id -> lessons.RunFacts: every run the Lesson page saw, dropped ones too
LESSON_UPLOADED = "lab.lesson_uploaded"  # the lesson a teacher uploaded in this session (lessons.Lesson), or None
LESSON_UPLOAD_SEEN = "lab.lesson_upload_seen"  # file_id of the last lesson upload handled
LESSON_UPLOAD_PROBLEMS = "lab.lesson_upload_problems"  # (file name, problems) of the last refused upload
# The session's copy on disk (lab_ui/persist.py, docs/sessions.md)
PERSIST_CHECKED = "lab.persist.checked"  # True once this session looked for its stored runs
PERSIST_SAVED = "lab.persist.saved"  # what was stored last (persist._signature), to store only changes
PERSIST_NOTE = "lab.persist.note"  # (level, text) about the stored session, shown once
PERSIST_AWAY = "lab.persist.away"  # (level, text): how a job ended while no tab watched it, shown once
SESSION_FILE_SEEN = "lab.session_file_seen"  # (file id, level, message) of the last session file loaded

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
BROWSE_BATCH = "browse.batch"  # the seed of the random batch (no widget: "New batch" draws another)
BROWSE_SEED = "lab.value.browse.batch"  # where that seed is stored (value_key(BROWSE_BATCH))
# Upload
TEMPERATURE = "upload.temperature"
USE_CAMERA = "upload.use_camera"
MIRROR = "upload.mirror"  # mirror-aware Top-3 (the garment read facing Fashion-MNIST's way)
FILL = "upload.fill"  # fill an outline drawing's inside (fmnist_lib/images/outline.py)
USE_CANVAS = "upload.use_canvas"  # draw a garment instead of a photo
PEN_WIDTH = "upload.pen_width"
CANVAS_DARK = "upload.canvas_dark"  # white strokes on black instead of black on white
CANVAS_WHOLE_PAGE = "upload.canvas_whole_page"  # the whole page follows the drawing, not only its quick read
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
# Lesson
LESSON_PICK = "lesson.pick"  # the name of the lesson shown


def lesson_answer(lesson: str, n: int) -> str:
    """The persistent text area of exercise n's answer in lesson `lesson`."""
    return f"lesson.answer.{lesson}.{n}"


# Sidebar
ACTIVE_PICK = "sidebar.active"
ACTIVE = "lab.value.sidebar.active"  # id of the active LabRun, or None for the default model

# --- the settings each page keeps in its URL: links.PAGES's parameter -> the stored value's name ---
URL_SETTINGS = {
    "": {},
    "train": {
        "model": MODEL,
        "lr": LR,
        "epochs": EPOCHS,
        "batch": BATCH,
        "opt": OPTIMIZER,
        "wd": WEIGHT_DECAY,
        "sched": SCHEDULE,
        "aug": AUGMENT,
        "seed": SEED,
    },
    "browse": {"view": VIEW, "n": BATCH_SIZE, "batch": BROWSE_BATCH},
    "upload": {"mirror": MIRROR, "fill": FILL},
    "softmax": {
        "src": INSIDE_SOURCE,
        "i": INSIDE_INDEX,
        "t": INSIDE_TEMPERATURE,
        "shift": INSIDE_SHIFT,
        "step_lr": INSIDE_LR,
    },
}
URL_PAGE = "lab.url.page"  # url path of the page the last full script run showed
URL_WRITTEN = "lab.url.written"  # the query (name -> text) this session last put in the address bar
URL_HISTORY = "lab.url.history"  # page -> the queries this session wrote for it (to know its own in Back's entries)
URL_HISTORY_KEPT = 64  # per page: bounds memory per session
URL_NOTES = "lab.url.notes"  # (page, notes): what the link that opened the page held and was ignored
URL_TOUCHED = "lab.url.touched"  # True when a callback of this script run changed a setting

# Widgets that are not persisted (buttons, uploaders, chart selections)
TRAIN_BUTTON = "w.train.train"
STOP_BUTTON = "w.train.stop"
CONTINUE_BUTTON = "w.train.continue"
RESET_BUTTON = "w.train.reset"
CHECKPOINT_UPLOAD = "w.train.checkpoint_upload"
SESSION_FILE_UPLOAD = "w.train.session_file"
FORGET_BUTTON = "w.train.forget"
KEEP_BOX = "w.train.keep"  # + ".<run id>": a run's Keep checkbox (session_runs.py)
DELETE_BUTTON = "w.train.delete"  # + ".<run id>": a run's Delete button
NEW_BATCH_BUTTON = "w.browse.new_batch"
CONFUSION_CHART = "w.browse.confusion"
IMAGE_UPLOAD = "w.upload.file"
CAMERA = "w.upload.camera"
FORGET_PHOTO_BUTTON = "w.upload.forget_photo"
LESSON_UPLOAD = "w.lesson.upload"
REVEAL_PRECISION_BUTTON = "w.lesson.reveal_precision"
LESSON_REPORT_BUTTON = "w.lesson.report"
CANVAS = "w.upload.canvas"  # the drawing canvas (its drawing lives in the component; a new key clears it)


def widget_key(name: str) -> str:
    return f"w.{name}"


def value_key(name: str) -> str:
    return f"lab.value.{name}"


def get(name: str, default: Any = None) -> Any:
    """The stored value of a persistent widget (whether or not its page is shown)."""
    return st.session_state.get(value_key(name), default)


def _store(name: str, value: Any) -> None:
    st.session_state[value_key(name)] = value
    st.session_state[widget_key(name)] = value


def put(name: str, value: Any) -> None:
    """Set a persistent widget's value. Call from callbacks (the address bar follows) or before the
    widget is drawn."""
    _store(name, value)
    touched()


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
        touched()

    kwargs = {"key": wkey, "on_change": _sync, "persist_state": "session"}
    if options is not None:
        opts = list(options)
        kwargs["index"] = opts.index(stored) if stored in opts else 0
    else:
        kwargs[arg] = stored
    return kwargs


def compare_options() -> list[int]:
    """The runs the comparison can draw: those with an epoch, and the run training (its curve is on its way).
    A run that diverged in its first epoch (rolled back to nothing) is not offered, so never pre-selected."""
    job = st.session_state.get(JOB)
    return [r.id for r in runs() if r.run.history or (job is not None and r.id == job.run_id)]


def _compare_key(run_ids: list[int]) -> str:
    return f"{widget_key(COMPARE)}.{'-'.join(map(str, run_ids))}"


def bind_compare(run_ids: list[int]) -> dict:
    """kwargs of the "Compare runs" multiselect over `run_ids` (compare_options()). Its widget key changes
    whenever the set of runs it offers changes, so a new run joins the comparison through the new widget's
    default instead of by writing into a live widget (a rerun sent by the browser mid-training would undo that).
    The browser may still report the old widget's value once: that change is ignored."""
    ss = st.session_state
    vkey = value_key(COMPARE)
    stored = [i for i in ss.get(vkey, []) if i in run_ids]
    ss[vkey] = stored
    wkey = _compare_key(run_ids)

    def _sync() -> None:
        if wkey == _compare_key(compare_options()):
            ss[vkey] = ss[wkey]

    return {"key": wkey, "on_change": _sync, "default": stored}


# --- the address bar ---------------------------------------------------------------


def _query_now() -> dict[str, list[str]]:
    return {k: st.query_params.get_all(k) for k in st.query_params}


def _flat(query: dict[str, list[str]]) -> dict[str, str | list[str]]:
    return {k: v[0] if len(v) == 1 else v for k, v in query.items()}


def open_url(page: str) -> None:
    """Before a full run of `page` (url path): the settings a link brings, or the page's own settings
    into the address bar. See the module docstring for when the address bar is read."""
    names = URL_SETTINGS.get(page)
    ss = st.session_state
    if names is None:
        # A page that reads its own URL (Lesson): the page shown all the same, so a callback on it (an
        # answer typed) does not write the previous page's settings into its address bar (touched), and
        # the next page opened from it reads its link.
        ss[URL_PAGE] = page
        return
    query = _query_now()
    opened = ss.get(URL_PAGE) != page
    touched_now = ss.pop(URL_TOUCHED, False)
    ss[URL_PAGE] = page
    busy = page == "train" and job() is not None  # a running job's settings stay as they were
    flat = _flat(query)
    written = ss.setdefault(URL_HISTORY, {})
    if any(flat in texts for p, texts in written.items() if p != page) and flat not in written.get(page, []):
        query = {}  # the navigation's own history entry, which keeps the previous page's query: not a link
    if query and not busy and (opened or (not touched_now and flat != ss.get(URL_WRITTEN))):
        read = links.read_query(page, query)
        values = {**links.defaults(page, read.values), **read.values}
        for param, name in names.items():
            if param in values:
                _store(name, values[param])
            else:
                ss.pop(value_key(name), None)  # no default (Browse's batch): drawn anew below
        if page == "train":
            ss[LR_MOVED] = "lr" in read.values  # a linked rate stays when the optimizer changes
        ss[URL_NOTES] = (page, read.ignored)
    elif opened:
        ss[URL_NOTES] = (page, [])  # a note belongs to the link that opened the page
    if page == "browse" and ss.get(BROWSE_SEED) is None:
        ss[BROWSE_SEED] = new_browse_batch()
    write_url(page)


def new_browse_batch() -> int:
    """A new seed for Browse's random batch (a fresh one per session and per click, not part of any run)."""
    return secrets.randbits(32)


def touched() -> None:
    """A callback changed a setting: the address bar follows it (now, for a fragment's widget too), and
    the next script run takes its URL as this session's own, not as a link to read."""
    st.session_state[URL_TOUCHED] = True
    page = st.session_state.get(URL_PAGE)
    if page in URL_SETTINGS:
        write_url(page)


def url_values(page: str) -> dict[str, Any]:
    """`page`'s settings as its link holds them (parameter -> value), those equal to a default left out."""
    names = URL_SETTINGS.get(page, {})
    current = {p: get(n) for p, n in names.items() if get(n) is not None}
    default = links.defaults(page, current)
    if "model" in default:  # Train's defaults follow the model; the model's own is the one a bare link gets
        default["model"] = links.defaults(page)["model"]
    values = {}
    for param, value in current.items():
        if param in default and value == default[param]:
            continue
        try:
            links.query_string(page, {param: value})  # one the page offers (a stale value is left out)
        except links.LinkError:
            continue
        values[param] = value
    return values


def write_url(page: str) -> None:
    """`page`'s current settings into the address bar (when they differ from what it holds)."""
    text = dict(parse_qsl(links.query_string(page, url_values(page))))
    st.session_state[URL_WRITTEN] = text
    texts = st.session_state.setdefault(URL_HISTORY, {}).setdefault(page, [])
    if text not in texts:
        texts.append(text)
        del texts[:-URL_HISTORY_KEPT]
    if _flat(_query_now()) != text:
        st.query_params.from_dict(text)


def url_notes(page: str) -> list[str]:
    """What the link that opened `page` held and the page ignored (empty when nothing was)."""
    shown, notes = st.session_state.get(URL_NOTES, ("", []))
    return list(notes) if shown == page else []


# --- runs ----------------------------------------------------------------------
MAX_RUNS = 8  # runs kept per session (the oldest unpinned dropped first: fmnist_lib.keeping): bounds memory


@dataclass
class LabRun:
    """A run of this session: a TrainingRun with an id and a name for the UI."""

    id: int
    name: str
    run: TrainingRun
    origin: str = "trained"  # "trained" here or "checkpoint" (uploaded)
    pinned: bool = False  # the learner chose to keep it: never dropped to make room for another run


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
    reruns: int = 0  # the live panel's reruns while the job was on, and their CPU seconds (script thread)
    rerun_cpu_s: float = 0.0
    connection: str | None = None  # the browser connection that last read it (lab_ui/session_cookie.py)


# The last photo and its memo (UPLOAD_PHOTO, UPLOAD_MEMO): made by the Upload page (upload_page/uploads.py),
# restored from disk by persist.py, read by Inside softmax. Here, beside their keys, so no shared module imports
# the Upload page's package.
@dataclass(frozen=True)
class Photo:
    """The session's last photo, read by the page like an uploaded file (name, getvalue())."""

    name: str
    data: bytes = field(repr=False)
    file_id: str = ""  # the widget's id of the file it came from; "" once restored after a reload

    def getvalue(self) -> bytes:
        return self.data


@dataclass
class Processed:
    pixels: np.ndarray  # [28, 28] uint8, the model's input
    stages: list[tuple[str, Image.Image, str]]  # (name, thumbnail, caption)


@dataclass
class UploadResult:
    digest: str
    error: str | None = None
    original: Image.Image | None = None  # thumbnail, in colour
    pipelines: dict[str, Processed] = field(default_factory=dict)


def runs() -> list[LabRun]:
    return st.session_state.setdefault(RUNS, [])


def find_run(run_id: int | None) -> LabRun | None:
    if run_id is None:
        return None
    return next((r for r in runs() if r.id == run_id), None)


class NoRoom(ValueError):
    """The session is full and every run is pinned (or the active model, or training): none may go."""


# Said wherever a run could not join (Train, a checkpoint, a session file): what to do about it.
NO_ROOM = (
    "All {n} runs of this session are kept (pinned, or the active model), so another has no room: unpin or "
    "delete one under Runs of this session (Keep or delete runs) first."
)


def _protected() -> set:
    """Runs never dropped to make room: the active model and the run training."""
    job = st.session_state.get(JOB)
    return {st.session_state.get(ACTIVE), job.run_id if job else None}


def room_for_a_run() -> bool:
    """Whether one more run can join the session (a run the learner did not pin may be dropped for it)."""
    kept = runs()
    return keeping.has_room([r.id for r in kept], {r.id for r in kept if r.pinned}, _protected(), MAX_RUNS)


def add_run(run: TrainingRun, origin: str = "trained", name: str | None = None) -> LabRun:
    """Add a run to the session; beyond MAX_RUNS the oldest run neither pinned, active nor training is dropped
    (named in DROPPED). NoRoom when every run is kept (nothing is added)."""
    if not room_for_a_run():
        raise NoRoom(NO_ROOM.format(n=MAX_RUNS))
    counter = st.session_state.setdefault(RUN_COUNTER, itertools.count(1))
    rid = next(counter)
    kept = runs()
    if name is None:
        name = run_name(rid, run.config, [r.run.config for r in kept])
    lab_run = LabRun(rid, name, run, origin)
    kept.append(lab_run)
    pinned = {r.id for r in kept if r.pinned}
    gone = set(keeping.to_drop([r.id for r in kept], pinned, _protected() | {rid}, MAX_RUNS))
    dropped = [r.name for r in kept if r.id in gone]
    kept[:] = [r for r in kept if r.id not in gone]
    # Never silently: the Train page names them until the next run is added (session_runs.dropped_notice).
    st.session_state[DROPPED] = dropped
    return lab_run


def set_pinned(run_id: int, pinned: bool) -> None:
    """Keep a run (never dropped to make room) or let it go again."""
    lab_run = find_run(run_id)
    if lab_run is not None:
        lab_run.pinned = bool(pinned)


def delete_run(run_id: int) -> None:
    """on_click of a run's Delete: the run leaves the session (never the one training)."""
    job = st.session_state.get(JOB)
    if job is not None and job.run_id == run_id:
        return
    runs()[:] = [r for r in runs() if r.id != run_id]
    if st.session_state.get(ACTIVE) == run_id:
        set_active(None)  # the default model again
    notice = st.session_state.get(NOTICE)
    if notice is not None and notice[0] == run_id:
        st.session_state.pop(NOTICE, None)


SHORT_MODEL = {"softmax": "Softmax", "cnn": "CNN"}  # names go into chart legends and tables: every character counts

# The settings a run name may mention, in the order it mentions them, each with how it reads.
_NAME_PARTS = (
    ("batch_size", lambda v: f"batch {v}"),
    ("epochs", lambda v: plural(v, "epoch")),
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
        f"#{rid} {SHORT_MODEL.get(config.model, MODEL_TITLES[config.model])}",
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


def record_event(name: str) -> None:
    """Note that the learner saw or opened something a lesson's check asks for ("saw_overflow",
    "opened:confident_mistakes"): kept for the session, read by the Lesson page."""
    st.session_state.setdefault(EVENTS, set()).add(name)


def events() -> frozenset[str]:
    return frozenset(st.session_state.get(EVENTS, ()))


def job() -> TrainJob | None:
    return st.session_state.get(JOB)


def model_key(run_id: int | None, run: TrainingRun) -> tuple:
    """What identifies a model's state for a memo: the run, and how far it has trained."""
    return (run_id, run.steps, run.epochs_done)


def memo(name: str, key: Any, make: Callable[[], Any]) -> Any:
    """The value `make()` gave for `key`, kept in session state under `name` until the key changes (one
    value per name: the last model state's predictions, say)."""
    kept = st.session_state.get(name)
    if kept is None or kept[0] != key:
        kept = (key, make())
        st.session_state[name] = kept
    return kept[1]
