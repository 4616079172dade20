"""Lessons: a teacher's path through the lab, read from a YAML file, and the checks of its exercises.

A lesson is a list of steps (a text, links that open a page of the lab with settings preset) and
exercises (a task, a question, an answer, and a check the lab decides from what the learner did).
The file is data only: it is read with a safe YAML loader that builds plain strings, numbers, lists
and mappings (no tags, no anchors), and nothing in it is ever run. `parse_lesson` says everything
wrong with a file at once, one problem a line (file, step, field, what is wrong); `docs/lessons.md`
describes the format.

The checks are plain functions of a `SessionRecord` (the session's runs and the events the pages
recorded), so they are tested on made-up sessions without the UI.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import links
from .words import plural

MAX_BYTES = 200_000  # a lesson is a few pages of text; a larger file is refused unread
MAX_ITEMS = 100  # steps and exercises together
MAX_TEXT = 20_000  # characters in one text field
MAX_SHORT = 200  # characters in a title, label or question line
MAX_LINKS = 10  # links per step
MAX_PROBLEMS = 50  # a file broken everywhere is not listed line by line past this
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # links.PAGES["lesson"]'s rule for a lesson's name
OPENABLE = {  # views a learner can open, recorded as events "opened:<view>"
    "confident_mistakes": "the most confident mistakes on Browse",
    "reliability": "the reliability diagram on Browse",
}
SAW_OVERFLOW = "saw_overflow"  # the naive softmax on Inside softmax returned inf or NaN
REVEALED_PRECISION = "revealed:precision_table"  # the learner revealed the precision table
MAX_SESSION_RUNS = 8  # lab_ui.state.MAX_RUNS: a check cannot ask for more runs than a session keeps


class LessonError(ValueError):
    """A lesson file that cannot be used; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --- the lesson -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """A link to a page of the lab with settings preset; `query` is the checked URL query."""

    label: str
    page: str  # a url path of links.PAGES ("" is Home)
    query: str  # "model=softmax&lr=10", validated by links.link

    @property
    def href(self) -> str:
        return f"{self.page}?{self.query}" if self.query else self.page


@dataclass(frozen=True)
class Check:
    """One check of the fixed vocabulary (CHECKS) with its parameters."""

    kind: str
    params: dict

    def describe(self) -> str:
        return CHECKS[self.kind].describe(self.params)


@dataclass(frozen=True)
class Item:
    """A step (`check` None) or an exercise of a lesson. Texts are Markdown with raw HTML escaped."""

    title: str
    text: str  # a step's text, an exercise's task
    links: tuple[Link, ...] = ()
    question: str = ""
    answer: str = ""
    check: Check | None = None

    @property
    def is_exercise(self) -> bool:
        return self.check is not None


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    intro: str
    items: tuple[Item, ...]

    @property
    def exercises(self) -> list[Item]:
        return [i for i in self.items if i.is_exercise]


# --- what a session did -------------------------------------------------------------------------
@dataclass(frozen=True)
class RunFacts:
    """What a check needs to know of one run of the session."""

    id: int
    name: str
    settings: dict  # Train's URL parameters (links.TRAIN_FIELDS): model, lr, epochs (asked), batch, ...
    end_reason: str  # TrainingRun.status: new, running, stopped, finished, diverged (the guard), failed
    epochs_done: int = 0
    train_acc: tuple[float, ...] = ()  # per epoch
    test_acc: tuple[float | None, ...] = ()  # per epoch (None: not evaluated)
    seconds: float = 0.0  # training time of all its epochs

    @property
    def model(self) -> str:
        return self.settings.get("model", "softmax")

    @property
    def final_test(self) -> float | None:
        return next((a for a in reversed(self.test_acc) if a is not None), None)

    def line(self) -> str:
        """The run in one line of a report: its name, settings, end and accuracies."""
        shown = ", ".join(f"{k}={links.PAGES['train'][k].show(v)}" for k, v in self.settings.items())
        acc = self.final_test
        accs = f"train {self.train_acc[-1]:.1%}" if self.train_acc else "no epoch"
        accs += f", test {acc:.1%}" if acc is not None else ""
        return f"{self.name} ({shown}): {self.end_reason}, {plural(self.epochs_done, 'epoch')}, {accs}, {self.seconds:.1f} s"


@dataclass(frozen=True)
class SessionRecord:
    runs: tuple[RunFacts, ...] = ()
    events: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CheckResult:
    done: bool
    saw: str  # what the check saw, in a sentence
    runs: tuple[RunFacts, ...] = ()  # the runs behind it
    numbers: str = ""  # the answer told with the learner's own numbers (some checks only)


# --- the checks --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckKind:
    """A check of the vocabulary: how its parameter is read (raises ValueError), described and decided."""

    read: Callable[[Any], dict]
    describe: Callable[[dict], str]
    decide: Callable[[dict, SessionRecord], CheckResult]
    syntax: str  # how it is written in a lesson file, for messages and docs


def _no_param(v: Any) -> dict:
    if v not in (None, True, {}):
        raise ValueError("takes no parameter")
    return {}


def _number(v: Any, what: str, low: float, high: float, whole: bool) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (whole and not isinstance(v, int)):
        raise ValueError(f"{what} must be {'a whole number' if whole else 'a number'} from {low:g} to {high:g}")
    if not (math.isfinite(v) and low <= v <= high):
        raise ValueError(f"{what} must be from {low:g} to {high:g}, not {v:g}")
    return v


def _trained(r: RunFacts) -> bool:
    return r.epochs_done > 0 or r.end_reason == "diverged"


def _names(runs: Iterable[RunFacts]) -> str:
    return ", ".join(r.name for r in runs)


# diverged -------------------------------------------------------------------------------------
def _decide_diverged(_: dict, rec: SessionRecord) -> CheckResult:
    hit = [r for r in rec.runs if r.end_reason == "diverged"]
    if hit:
        lrs = ", ".join(f"{r.settings.get('lr', 0):g}" for r in hit)
        return CheckResult(True, f"The divergence guard stopped {_names(hit)} (learning rate {lrs}).", tuple(hit))
    tried = [r for r in rec.runs if _trained(r)]
    top = max((r.settings.get("lr", 0) for r in tried), default=None)
    saw = "No run of this session has diverged yet" + (
        f" (the largest learning rate tried: {top:g})." if tried else "."
    )
    return CheckResult(False, saw)


# runs_differ_in: lr, at_least: 3 --------------------------------------------------------------------
def _read_differ(v: Any) -> dict:
    if not isinstance(v, Mapping):
        raise ValueError("write it as {runs_differ_in: lr, at_least: 3}")
    setting = v.get("runs_differ_in")
    if setting not in links.TRAIN_FIELDS or setting == "epochs":
        known = ", ".join(k for k in links.TRAIN_FIELDS if k != "epochs")
        raise ValueError(f"runs_differ_in must be one of Train's settings {known}, not {_short(setting)}")
    extra = set(v) - {"runs_differ_in", "at_least"}
    if extra:
        raise ValueError(f"unknown parameter {_short(sorted(map(str, extra))[0])}; runs_differ_in takes at_least")
    n = _number(v.get("at_least", 2), "at_least", 2, MAX_SESSION_RUNS, whole=True)
    return {"setting": setting, "at_least": int(n)}


def _decide_differ(p: dict, rec: SessionRecord) -> CheckResult:
    setting, need = p["setting"], p["at_least"]
    groups: dict[tuple, dict[Any, RunFacts]] = {}
    for r in rec.runs:
        if not _trained(r):
            continue
        # Runs "differ only in" the setting when everything else they were asked for is the same.
        rest = tuple(sorted((k, v) for k, v in r.settings.items() if k not in (setting, "epochs")))
        groups.setdefault(rest, {}).setdefault(r.settings.get(setting), r)
    best = max(groups.values(), key=len, default={})
    what = links.PAGES["train"][setting].what
    shown = ", ".join(links.PAGES["train"][setting].show(v) for v in best)
    if len(best) >= need:
        return CheckResult(True, f"{len(best)} runs differ only in the {what} ({shown}).", tuple(best.values()))
    saw = f"Runs that differ only in the {what}: {len(best)} of {need}" + (f" ({shown})." if best else ".")
    return CheckResult(False, saw, tuple(best.values()))


# epochs_at_least: 50 --------------------------------------------------------------------------
def _read_epochs(v: Any) -> dict:
    return {"epochs": int(_number(v, "epochs_at_least", 1, links.MAX_EPOCHS, whole=True))}


def gap_answer(r: RunFacts) -> str:
    """Exercise 3's answer with the learner's numbers: the gap between the training and test curves."""
    tests = [(i + 1, a) for i, a in enumerate(r.test_acc) if a is not None]
    if not tests or not r.train_acc:
        return ""
    best_epoch, best = max(tests, key=lambda t: t[1])
    last_epoch, last = tests[-1]
    train = r.train_acc[-1]
    text = (
        f"In your run {r.name}, after {r.epochs_done} epochs the training accuracy is {train:.1%} and the test "
        f"accuracy {last:.1%}: a gap of {100 * (train - last):.1f} points. The best test accuracy was {best:.1%}, "
        f"at epoch {best_epoch}"
    )
    if last < best - 0.0005:
        text += f"; by epoch {last_epoch} it had fallen {100 * (best - last):.1f} points from there."
    else:
        text += "."
    return text


def _decide_epochs(p: dict, rec: SessionRecord) -> CheckResult:
    n = p["epochs"]
    hit = [r for r in rec.runs if r.epochs_done >= n]
    if hit:
        r = max(hit, key=lambda r: r.epochs_done)
        return CheckResult(True, f"{r.name} trained {plural(r.epochs_done, 'epoch')}.", (r,), gap_answer(r))
    longest = max((r.epochs_done for r in rec.runs), default=0)
    return CheckResult(False, f"The longest run of this session has {plural(longest, 'epoch')} of {n}.")


# batch_sizes: [16, 1024] ----------------------------------------------------------------------
def _read_batches(v: Any) -> dict:
    allowed = links.BATCH_OPTIONS
    if not isinstance(v, list) or len(v) < 2 or not all(isinstance(b, int) and not isinstance(b, bool) for b in v):
        raise ValueError("must be a list of two or more batch sizes, like [16, 1024]")
    bad = [b for b in v if b not in allowed]
    if bad:
        raise ValueError(f"batch size {bad[0]} is not one Train offers: {', '.join(map(str, allowed))}")
    if len(set(v)) != len(v):
        raise ValueError("names a batch size twice")
    return {"batches": [int(b) for b in v]}


def batch_answer(runs: Iterable[RunFacts]) -> str:
    """Exercise 4's answer with the learner's numbers: each batch size's time and accuracy."""
    parts = []
    for r in runs:
        acc = r.final_test
        acc_text = f"test accuracy {acc:.1%}" if acc is not None else "no test accuracy"
        per = r.seconds / max(r.epochs_done, 1)
        parts.append(f"batch {r.settings.get('batch')}: {r.seconds:.1f} s ({per:.1f} s an epoch), {acc_text}")
    return "Your runs: " + "; ".join(parts) + "." if parts else ""


def _decide_batches(p: dict, rec: SessionRecord) -> CheckResult:
    batches = p["batches"]
    by_epochs: dict[tuple, dict[int, RunFacts]] = {}
    for r in rec.runs:
        b = r.settings.get("batch")
        if r.epochs_done > 0 and b in batches:
            by_epochs.setdefault((r.model, r.epochs_done), {}).setdefault(b, r)
    for (_, epochs), found in sorted(by_epochs.items(), key=lambda kv: -kv[0][1]):
        if len(found) == len(batches):
            picked = tuple(found[b] for b in batches)
            saw = f"Runs at batch {', '.join(map(str, batches))} with {plural(epochs, 'epoch')} each: {_names(picked)}."
            return CheckResult(True, saw, picked, batch_answer(picked))
    have = sorted({b for found in by_epochs.values() for b in found})
    saw = f"Batch sizes trained so far among {', '.join(map(str, batches))}: " + (
        f"{', '.join(map(str, have))} (not yet with the same number of epochs)." if have else "none."
    )
    return CheckResult(False, saw)


# events ---------------------------------------------------------------------------------------
def _decide_overflow(_: dict, rec: SessionRecord) -> CheckResult:
    if SAW_OVERFLOW in rec.events:
        return CheckResult(True, "On Inside softmax you saw the naive softmax return inf / NaN.")
    return CheckResult(False, "The naive softmax has not broken on Inside softmax in this session yet.")


def _decide_precision(_: dict, rec: SessionRecord) -> CheckResult:
    if REVEALED_PRECISION in rec.events:
        return CheckResult(True, "You revealed the table below.")
    return CheckResult(False, "Guess first, then reveal the table.")


def _read_opened(v: Any) -> dict:
    views = [v] if isinstance(v, str) else v
    if not isinstance(views, list) or not views or not all(isinstance(x, str) for x in views):
        raise ValueError(f"must name a view or a list of views: {', '.join(OPENABLE)}")
    bad = [x for x in views if x not in OPENABLE]
    if bad:
        raise ValueError(f"there is no view {_short(bad[0])} to open; views: {', '.join(OPENABLE)}")
    return {"views": list(dict.fromkeys(views))}


def _decide_opened(p: dict, rec: SessionRecord) -> CheckResult:
    missing = [v for v in p["views"] if f"opened:{v}" not in rec.events]
    seen = [OPENABLE[v] for v in p["views"] if v not in missing]
    if not missing:
        return CheckResult(True, "You opened " + " and ".join(seen) + ".")
    return CheckResult(False, "Not opened yet: " + " and ".join(OPENABLE[v] for v in missing) + ".")


# cnn_accuracy_at_least: 0.9 ---------------------------------------------------------------------
def _read_cnn(v: Any) -> dict:
    return {"accuracy": float(_number(v, "cnn_accuracy_at_least", 0.0, 1.0, whole=False))}


def _decide_cnn(p: dict, rec: SessionRecord) -> CheckResult:
    need = p["accuracy"]
    cnns = [r for r in rec.runs if r.model == "cnn" and r.final_test is not None]
    best = max(cnns, key=lambda r: r.final_test, default=None)
    if best is not None and best.final_test >= need:
        return CheckResult(True, f"{best.name} reached {best.final_test:.1%} on the test images.", (best,))
    if best is None:
        return CheckResult(False, f"No CNN run with a test accuracy yet (the goal: {need:.0%}).")
    return CheckResult(
        False, f"The best CNN run so far, {best.name}, has {best.final_test:.1%} (the goal: {need:.0%})."
    )


CHECKS: dict[str, CheckKind] = {
    "diverged": CheckKind(_no_param, lambda p: "a run stopped by the divergence guard", _decide_diverged, "diverged"),
    "runs_differ_in": CheckKind(
        _read_differ,
        lambda p: f"{p['at_least']} runs that differ only in the {links.PAGES['train'][p['setting']].what}",
        _decide_differ,
        "{runs_differ_in: lr, at_least: 3}",
    ),
    "epochs_at_least": CheckKind(
        _read_epochs, lambda p: f"a run of at least {p['epochs']} epochs", _decide_epochs, "{epochs_at_least: 50}"
    ),
    "batch_sizes": CheckKind(
        _read_batches,
        lambda p: f"runs at batch {' and '.join(map(str, p['batches']))} with the same epochs",
        _decide_batches,
        "{batch_sizes: [16, 1024]}",
    ),
    "saw_overflow": CheckKind(
        _no_param, lambda p: "the naive softmax broken on Inside softmax", _decide_overflow, "saw_overflow"
    ),
    "precision_table": CheckKind(
        _no_param, lambda p: "the precision table revealed", _decide_precision, "precision_table"
    ),
    "opened": CheckKind(
        _read_opened,
        lambda p: "opened " + " and ".join(OPENABLE[v] for v in p["views"]),
        _decide_opened,
        "{opened: confident_mistakes} or {opened: [confident_mistakes, reliability]}",
    ),
    "cnn_accuracy_at_least": CheckKind(
        _read_cnn, lambda p: f"a CNN run at {p['accuracy']:.0%} or more", _decide_cnn, "{cnn_accuracy_at_least: 0.9}"
    ),
}


def evaluate(check: Check, record: SessionRecord) -> CheckResult:
    return CHECKS[check.kind].decide(check.params, record)


def progress(lesson: Lesson, record: SessionRecord) -> tuple[int, int]:
    """(exercises done, exercises)."""
    results = [evaluate(e.check, record) for e in lesson.exercises]
    return sum(r.done for r in results), len(results)


# --- the precision table -----------------------------------------------------------------------
@dataclass(frozen=True)
class ExpLimits:
    """Where exp, computed in one floating-point type, overflows to inf and underflows to 0."""

    dtype: str
    largest: float  # torch.finfo(dtype).max
    smallest_normal: float  # torch.finfo(dtype).tiny
    overflow_above: float  # the largest x (in the type) whose exp is finite
    underflow_below: float  # the smallest x (in the type) whose exp is not 0


PRECISION_TYPES = ("float64", "float32", "bfloat16", "float16")


def _boundary(dtype, good: float, bad: float, ok: Callable[[Any], bool]) -> float:
    """The x nearest `bad` (as the type rounds it) at which ok(exp(x)) still holds, by bisection in float64."""
    import torch

    def holds(x: float) -> bool:
        return ok(torch.exp(torch.tensor(x, dtype=dtype)))

    for _ in range(200):
        mid = (good + bad) / 2
        if mid in (good, bad):
            break
        good, bad = (mid, bad) if holds(mid) else (good, mid)
    return float(torch.tensor(good, dtype=dtype).item())


def exp_limits() -> list[ExpLimits]:
    """Computed live with torch: for each type, where exp of a number of that type overflows and underflows."""
    import torch

    rows = []
    for name in PRECISION_TYPES:
        dt = getattr(torch, name)
        info = torch.finfo(dt)
        over = _boundary(dt, 0.0, 1e6, lambda y: bool(torch.isfinite(y)))
        under = _boundary(dt, 0.0, -1e6, lambda y: bool(y > 0))
        rows.append(ExpLimits(name, float(info.max), float(info.tiny), over, under))
    return rows


# --- reading a lesson file ---------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """safe_load's loader without anchors and aliases (an alias can multiply a small file into a huge tree)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (*name) are not allowed in a lesson", event.start_mark
            )
        return super().compose_node(parent, index)


_HTML_TAG = re.compile(r"<(?=[A-Za-z/!?])")


def safe_markdown(text: str) -> str:
    """A teacher's Markdown with raw HTML made inert: a `<` that would open a tag or comment is escaped
    (shown as "<"), so the page never renders HTML from a lesson file."""
    return _HTML_TAG.sub(r"\\<", text)


def _short(v: Any) -> str:
    text = repr(v) if not isinstance(v, str) else repr(v)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= 40 else text[:40] + "…'"


_STEP_FIELDS = {"step": True, "text": True, "links": False}
_EXERCISE_FIELDS = {"exercise": True, "task": True, "question": True, "answer": True, "check": True, "links": False}
_TOP_FIELDS = {"title": True, "intro": False, "steps": True}
_LINK_FIELDS = {"label": True, "page": True, "settings": False}


class _Problems:
    """Collects one line per problem: "FILE: step N ("title"), FIELD: what is wrong"."""

    def __init__(self, source: str):
        self.source, self.lines = source, []

    def add(self, where: str, what: str) -> None:
        if len(self.lines) < MAX_PROBLEMS:
            self.lines.append(f"{self.source}: {where}{': ' if where else ''}{what}")
        elif len(self.lines) == MAX_PROBLEMS:
            self.lines.append(f"{self.source}: more problems not listed")


def _text(p: _Problems, where: str, value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        p.add(where, f"must be text, not {type(value).__name__} {_short(value)}")
        return None
    if not value.strip():
        p.add(where, "is empty")
        return None
    if len(value) > limit:
        p.add(where, f"is {len(value):,} characters long (at most {limit:,})")
        return None
    return value.strip()


def _fields(p: _Problems, where: str, item: Mapping, fields: dict[str, bool], what: str) -> bool:
    ok = True
    for name in item:
        if name not in fields:
            p.add(f"{where}{_short(name)}", f"is not a field of {what}; its fields: {', '.join(fields)}")
            ok = False
    for name, required in fields.items():
        if required and name not in item:
            p.add(f"{where}{name}", "missing")
            ok = False
    return ok


def _setting_text(v: Any) -> str:
    """A setting's value as URL text: YAML reads `on` as True and `0.1` as a float."""
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _link(p: _Problems, where: str, raw: Any) -> Link | None:
    if not isinstance(raw, Mapping):
        p.add(where, "must be a mapping with label, page and settings")
        return None
    if not _fields(p, where + ".", raw, _LINK_FIELDS, "a link"):
        return None
    label = _text(p, f"{where}.label", raw["label"], MAX_SHORT)
    page = raw["page"]
    if page is None or page == "home":
        page = ""
    settings = raw.get("settings") or {}
    if not isinstance(page, str) or not isinstance(settings, Mapping):
        p.add(where, "page must be a page's name and settings a mapping of its settings")
        return None
    try:
        values = {}
        for name, v in settings.items():
            param = links.PAGES.get(page, {}).get(name)
            text = _setting_text(v)
            if param is None:
                values[name] = text  # links.link names the unknown page or setting
                continue
            try:
                values[name] = param.read(text)
            except ValueError as e:
                raise links.LinkError(f"{name}={_short(text)[1:-1]}: {param.what} {e}") from None
        href = links.link(page, values)
    except links.LinkError as e:
        p.add(where, str(e))
        return None
    if label is None:
        return None
    return Link(label, page, href.partition("?")[2])


def _check(p: _Problems, where: str, raw: Any) -> Check | None:
    if isinstance(raw, str):
        kind, value = raw, None
    elif isinstance(raw, Mapping) and raw:
        kind = next(iter(raw))
        # {runs_differ_in: lr, at_least: 3} reads the whole mapping; the others their one value.
        value = raw if kind == "runs_differ_in" else raw[kind]
        if kind != "runs_differ_in" and len(raw) > 1:
            p.add(where, f"one check per exercise; {_short(kind)} takes one value")
            return None
    else:
        p.add(where, f"must name a check: {', '.join(CHECKS)}")
        return None
    if kind not in CHECKS:
        p.add(where, f"unknown check {_short(kind)}; checks: {', '.join(CHECKS)}")
        return None
    try:
        return Check(kind, CHECKS[kind].read(value))
    except ValueError as e:
        p.add(where, f"{kind} {e} (written {CHECKS[kind].syntax})")
        return None


def _item(p: _Problems, n: int, raw: Any) -> Item | None:
    if not isinstance(raw, Mapping):
        p.add(f"step {n}", "must be a mapping that starts with 'step: TITLE' or 'exercise: TITLE'")
        return None
    is_exercise = "exercise" in raw
    if is_exercise == ("step" in raw):
        p.add(f"step {n}", "needs exactly one of 'step: TITLE' or 'exercise: TITLE'")
        return None
    kind = "exercise" if is_exercise else "step"
    title = raw[kind]
    where = f"step {n} ({_short(title)}), " if isinstance(title, str) else f"step {n}, "
    fields = _EXERCISE_FIELDS if is_exercise else _STEP_FIELDS
    before = len(p.lines)
    _fields(p, where, raw, fields, f"a{'n' if is_exercise else ''} {kind}")
    title = _text(p, where + kind, title, MAX_SHORT)

    def text_of(name: str) -> str | None:  # a missing field was reported by _fields
        return _text(p, where + name, raw[name], MAX_TEXT) if name in raw else None

    body = text_of("task" if is_exercise else "text")
    found = raw.get("links") or []
    if not isinstance(found, list):
        p.add(where + "links", "must be a list of links")
        found = []
    elif len(found) > MAX_LINKS:
        p.add(where + "links", f"has {len(found)} links (at most {MAX_LINKS})")
        found = []
    made = [_link(p, f"{where}links[{i + 1}]", x) for i, x in enumerate(found)]
    question = answer = None
    check = None
    if is_exercise:
        question, answer = text_of("question"), text_of("answer")
        if "check" in raw:
            check = _check(p, where + "check", raw["check"])
    if len(p.lines) > before:
        return None
    return Item(
        safe_markdown(title or ""),
        safe_markdown(body or ""),
        tuple(made),
        safe_markdown(question) if question else "",
        safe_markdown(answer) if answer else "",
        check,
    )


def parse_lesson(data: bytes, source: str, name: str | None = None) -> Lesson:
    """The lesson in `data` (the bytes of a lesson file named `source`), or LessonError with every problem."""
    p = _Problems(source)
    if len(data) > MAX_BYTES:
        raise LessonError([f"{source}: the file is {len(data):,} bytes (a lesson may be at most {MAX_BYTES:,})"])
    if b"\0" in data:
        raise LessonError([f"{source}: a binary file, not a lesson (a lesson is a YAML text file)"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LessonError([f"{source}: not UTF-8 text (byte {e.start}); a lesson is a YAML text file"]) from None
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader without aliases)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise LessonError([f"{source}: not valid YAML{at}: {what}"]) from None
    except RecursionError:
        raise LessonError([f"{source}: nested too deeply to be a lesson"]) from None
    if not isinstance(raw, Mapping):
        raise LessonError(
            [f"{source}: not a lesson: a lesson is a YAML mapping with title and steps, not {type(raw).__name__}"]
        )
    _fields(p, "", raw, _TOP_FIELDS, "a lesson")
    title = _text(p, "title", raw.get("title", ""), MAX_SHORT) if "title" in raw else None
    intro = _text(p, "intro", raw["intro"], MAX_TEXT) if "intro" in raw else ""
    steps = raw.get("steps")
    items: list[Item | None] = []
    if "steps" in raw:
        if not isinstance(steps, list) or not steps:
            p.add("steps", "must be a list of steps and exercises")
        elif len(steps) > MAX_ITEMS:
            p.add("steps", f"has {len(steps)} steps (at most {MAX_ITEMS})")
        else:
            items = [_item(p, n, s) for n, s in enumerate(steps, 1)]
    if p.lines:
        raise LessonError(p.lines)
    name = name or _name_of(source)
    return Lesson(name, safe_markdown(title or ""), safe_markdown(intro or ""), tuple(i for i in items if i))


def _name_of(source: str) -> str:
    stem = Path(source).stem
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", stem).lstrip("-_.")[:64]
    return cleaned or "lesson"


def load_lesson(path: str | Path) -> Lesson:
    """The lesson in the file at `path` (LessonError with every problem, also for a file that cannot be read)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise LessonError([f"{path}: the file is {size:,} bytes (a lesson may be at most {MAX_BYTES:,})"])
        data = path.read_bytes()
    except OSError as e:
        raise LessonError([f"{path}: cannot be read: {e.strerror or e}"]) from None
    return parse_lesson(data, str(path), _name_of(path.name))


LESSON_SUFFIXES = (".yaml", ".yml")


@dataclass
class Catalogue:
    """The lessons found in some folders: name -> Lesson, and one line per file refused."""

    lessons: dict[str, Lesson] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def find_lessons(folders: Iterable[str | Path]) -> Catalogue:
    """Every lesson file (*.yaml, *.yml) in `folders`, first folder first; a name found twice keeps the first."""
    cat = Catalogue()
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            cat.refused.append(f"{folder}: not a folder")
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in LESSON_SUFFIXES or not path.is_file():
                continue
            if not NAME_RE.fullmatch(path.stem):
                cat.refused.append(f"{path}: a lesson's name may hold only letters, digits, '-', '_' and '.'")
                continue
            try:
                lesson = load_lesson(path)
            except LessonError as e:
                cat.refused.extend(e.problems)
                continue
            cat.lessons.setdefault(lesson.name, lesson)
    return cat


# --- the learner's report -----------------------------------------------------------------------
def _quoted(text: str) -> str:
    """The learner's text as a fenced block (a fence longer than any run of backticks in it): shown as text."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _heading_text(text: str) -> str:
    """A title on one line, with Markdown's and HTML's special characters escaped."""
    return re.sub(r"([\\`*_\[\]<>#|!])", r"\\\1", " ".join(text.split()))


def report(lesson: Lesson, record: SessionRecord, answers: Mapping[int, str]) -> str:
    """A learner's report in Markdown: each exercise done / not yet, what its check saw, the runs behind it
    and the learner's answer (`answers`: exercise number, from 1 -> text), quoted as text."""
    done, total = progress(lesson, record)
    out = [f"# Lesson report: {_heading_text(lesson.title)}", "", f"**{done} of {total} exercises done.**", ""]
    for n, ex in enumerate(lesson.exercises, 1):
        res = evaluate(ex.check, record)
        out += [f"## Exercise {n}: {_heading_text(ex.title)} — {'done' if res.done else 'not yet'}", ""]
        out += [f"Check: {ex.check.describe()}. {_heading_text(res.saw)}", ""]
        if res.numbers:
            out += [_heading_text(res.numbers), ""]
        for r in res.runs:
            out.append(f"- {_heading_text(r.line())}")
        if res.runs:
            out.append("")
        given = (answers.get(n) or "").strip()
        out += ["Your answer:", "", _quoted(given) if given else "(none)", ""]
    return "\n".join(out)
