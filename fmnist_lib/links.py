"""Experiment links: which settings each page of the lab takes from its URL, and how they are read.

One table (PAGES) says, for every page, the query parameters it reads: `?model=softmax&lr=10&epochs=3`.
The Train page's controls, the lesson files' links and the README's table all come from it, so a
lesson that links to `train?lr=10` is checked against the same rules the page applies when opened.

Reading a URL never raises: `read_query` returns the values it could use and one note per
parameter it ignored (unknown, repeated, too long, of the wrong type, out of range), so a page
opens with its defaults for those and says which were ignored. A link never starts any work by
itself: there is no parameter that trains, uploads or loads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .config import AUGMENTATIONS, DEFAULT_CONFIGS, OPTIMIZERS, SCHEDULES
from .models import MODEL_KINDS

# The values the Train page's sliders offer (a link may ask only for one of these).
# Learning rates on a log scale (1-2-5 steps per decade); 0.1 is the tutorial's, 1e-3 Adam's default.
LR_OPTIONS = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_OPTIONS = (16, 32, 64, 128, 256, 512, 1024, 2048)
WEIGHT_DECAY_OPTIONS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)
MAX_EPOCHS = 50
MAX_SEED = 2**31 - 1
# Inside softmax's controls.
INSIDE_SOURCES = ("random", "index", "upload")
TEMPERATURES = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
STEP_LEARNING_RATES = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
SHIFT_RANGE = (-150, 150)
N_TEST = 10_000
# Browse's controls.
BROWSE_VIEWS = ("all", "mistakes", "confident")
BROWSE_MAX_N = 32

MAX_VALUE_CHARS = 64  # a longer value is ignored (a 10 kB value is not read, let alone echoed)
SHOWN_CHARS = 24  # how much of an ignored parameter's name or value a note repeats


class LinkError(ValueError):
    """A link asked for a page or a setting that does not exist, or a value a page does not offer."""


@dataclass(frozen=True)
class Param:
    """One query parameter of a page: its name in the URL, what it sets, how its text is read."""

    name: str  # in the URL: ?name=value
    what: str  # what it sets, for notes and docs ("learning rate")
    parse: Callable[[str], Any]  # text -> value; raises ValueError("must be ...")
    show: Callable[[Any], str]  # value -> text in the URL (parse(show(v)) == v)
    allowed: str  # the values it takes, for docs and notes

    def read(self, text: str) -> Any:
        return self.parse(text.strip())


def _g(v: float) -> str:
    return f"{v:g}"


def _one_of_numbers(options: Iterable[float]) -> tuple[Callable[[str], float], str]:
    opts = tuple(options)
    allowed = ", ".join(_g(o) for o in opts)

    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise ValueError(f"must be a number, one of {allowed}") from None
        for o in opts:
            if math.isclose(v, o, rel_tol=1e-9, abs_tol=1e-12):
                return o
        raise ValueError(f"must be one of {allowed}")

    return parse, allowed


def _whole(low: int, high: int) -> tuple[Callable[[str], int], str]:
    allowed = f"a whole number from {low} to {high}"

    def parse(s: str) -> int:
        if not re.fullmatch(r"[+-]?\d{1,12}", s):
            raise ValueError(f"must be {allowed}")
        v = int(s)
        if not low <= v <= high:
            raise ValueError(f"must be {allowed}")
        return v

    return parse, allowed


def _one_of_ints(options: Iterable[int]) -> tuple[Callable[[str], int], str]:
    opts = tuple(options)
    allowed = ", ".join(map(str, opts))

    def parse(s: str) -> int:
        if not re.fullmatch(r"\d{1,6}", s) or int(s) not in opts:
            raise ValueError(f"must be one of {allowed}")
        return int(s)

    return parse, allowed


def _word(options: Iterable[str]) -> tuple[Callable[[str], str], str]:
    opts = tuple(options)
    allowed = ", ".join(opts)

    def parse(s: str) -> str:
        if s not in opts:
            raise ValueError(f"must be one of {allowed}")
        return s

    return parse, allowed


_ON, _OFF = ("on", "1", "true", "yes"), ("off", "0", "false", "no")


def _switch(s: str) -> bool:
    if s.lower() in _ON:
        return True
    if s.lower() in _OFF:
        return False
    raise ValueError("must be on or off")


def _slug(s: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", s):
        raise ValueError("must be a lesson's name: letters, digits, '-', '_' or '.'")
    return s


def _param(name: str, what: str, parse_allowed, show: Callable[[Any], str] = str) -> Param:
    parse, allowed = parse_allowed
    return Param(name, what, parse, show, allowed)


def _params(*ps: Param) -> dict[str, Param]:
    return {p.name: p for p in ps}


# Page url paths (as st.navigation serves them; "" is Home) -> the parameters each reads.
PAGES: dict[str, dict[str, Param]] = {
    "": {},
    "lesson": _params(
        Param("lesson", "lesson", _slug, str, "the name of a lesson the page offers"),
    ),
    "train": _params(
        _param("model", "model", _word(MODEL_KINDS)),
        _param("lr", "learning rate", _one_of_numbers(LR_OPTIONS), _g),
        _param("epochs", "epochs", _whole(1, MAX_EPOCHS)),
        _param("batch", "batch size", _one_of_ints(BATCH_OPTIONS)),
        _param("opt", "optimizer", _word(OPTIMIZERS)),
        _param("wd", "weight decay", _one_of_numbers(WEIGHT_DECAY_OPTIONS), _g),
        _param("sched", "learning-rate schedule", _word(SCHEDULES)),
        _param("aug", "augmentation", _word(AUGMENTATIONS)),
        _param("seed", "seed", _whole(0, MAX_SEED)),
    ),
    "browse": _params(
        _param("view", "view", _word(BROWSE_VIEWS)),
        _param("n", "how many images", _whole(1, BROWSE_MAX_N)),
        _param("batch", "batch (the seed of the random sample)", _whole(0, 2**32 - 1)),
    ),
    "upload": _params(
        Param("mirror", "mirror step", _switch, lambda v: "on" if v else "off", "on, off"),
        Param("fill", "fill step for outline drawings", _switch, lambda v: "on" if v else "off", "on, off"),
    ),
    "softmax": _params(
        _param("src", "image source", _word(INSIDE_SOURCES)),
        _param("i", "test image index", _whole(0, N_TEST - 1)),
        _param("t", "temperature", _one_of_numbers(TEMPERATURES), _g),
        _param("shift", "logit shift", _whole(*SHIFT_RANGE)),
        _param("step_lr", "learning rate of the SGD step", _one_of_numbers(STEP_LEARNING_RATES), _g),
    ),
}
PAGE_TITLES = {
    "": "Home",
    "lesson": "Lesson",
    "train": "Train",
    "browse": "Browse predictions",
    "upload": "Upload a photo",
    "softmax": "Inside softmax",
}


@dataclass(frozen=True)
class Query:
    """What a page could use of its URL: `values` by parameter name, and a note per ignored parameter."""

    values: dict[str, Any]
    ignored: list[str]


def _shown(text: str) -> str:
    """A piece of what a URL held, short enough to repeat in a note (the UI shows it as plain text)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def read_query(page: str, query: Mapping[str, str | list[str]]) -> Query:
    """The settings `page` can take from a URL's query (name -> value, or -> all its values).

    Never raises: an unknown parameter, one given more than once, a value that is too long, of the
    wrong type or out of range is left out of `values` with one note in `ignored` that names it.
    """
    params = PAGES.get(page, {})
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for raw_name, raw in query.items():
        given = [raw] if isinstance(raw, str) else list(raw)
        name = _shown(raw_name)
        param = params.get(raw_name)
        if param is None:
            ignored.append(f"{name}: not a setting of this page")
        elif len(given) != 1:
            ignored.append(f"{name}: given {len(given)} times")
        elif len(given[0]) > MAX_VALUE_CHARS:
            ignored.append(f"{name}: its value is {len(given[0]):,} characters long")
        else:
            try:
                values[raw_name] = param.read(given[0])
            except ValueError as e:
                ignored.append(f"{name}={_shown(given[0])}: {param.what} {e}")
    return Query(values, ignored)


def query_string(page: str, values: Mapping[str, Any]) -> str:
    """`values` (parameter name -> value) as a URL query for `page`, in the table's order: "lr=10&epochs=3".

    Raises LinkError for a page or a parameter that does not exist, or a value the page does not offer."""
    if page not in PAGES:
        raise LinkError(f"there is no page {page!r}; pages: {', '.join(repr(p) for p in PAGES)}")
    params = PAGES[page]
    unknown = [n for n in values if n not in params]
    if unknown:
        known = ", ".join(params) or "none"
        raise LinkError(f"{PAGE_TITLES[page]} has no setting {', '.join(map(repr, unknown))}; its settings: {known}")
    pairs = []
    for name, param in params.items():
        if name not in values:
            continue
        text = param.show(values[name])
        try:
            param.read(text)
        except ValueError as e:
            raise LinkError(f"{name}={text}: {param.what} {e}") from None
        pairs.append((name, text))
    return urlencode(pairs)


def link(page: str, values: Mapping[str, Any] | None = None) -> str:
    """A relative link to `page` with `values`: "train?model=softmax&lr=10" (checked as query_string does)."""
    q = query_string(page, values or {})
    return f"{page}?{q}" if q else page


def train_defaults(model: str) -> dict[str, Any]:
    """The Train page's parameters for `model`'s recommended settings (what a link leaves out)."""
    c = DEFAULT_CONFIGS[model]
    return {
        "model": c.model,
        "lr": c.lr,
        "epochs": c.epochs,
        "batch": c.batch_size,
        "opt": c.optimizer,
        "wd": c.weight_decay,
        "sched": c.schedule,
        "aug": c.augment,
        "seed": c.seed,
    }


# Train's URL parameter -> TrainConfig's field.
TRAIN_FIELDS = {
    "model": "model",
    "lr": "lr",
    "epochs": "epochs",
    "batch": "batch_size",
    "opt": "optimizer",
    "wd": "weight_decay",
    "sched": "schedule",
    "aug": "augment",
    "seed": "seed",
}


# What a page shows for a setting its link leaves out (Train's come from the model: train_defaults).
# Browse's `batch` has none: a page opened without one draws a new random batch.
PAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "": {},
    "lesson": {},
    "train": train_defaults("softmax"),
    "browse": {"view": "all", "n": 8},
    "upload": {"mirror": True, "fill": True},
    "softmax": {"src": "random", "i": 0, "t": 1.0, "shift": 100, "step_lr": 0.1},
}


def defaults(page: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`page`'s settings for those `values` leaves out: Train's follow the model `values` names."""
    if page == "train":
        return train_defaults((values or {}).get("model", "softmax"))
    return dict(PAGE_DEFAULTS.get(page, {}))


def markdown_table() -> str:
    """The parameter table of the README (tests/test_links.py checks the README holds this very text)."""
    rows = ["| page | parameter | sets | values |", "|---|---|---|---|"]
    for page, params in PAGES.items():
        if page in ("", "lesson"):
            continue
        rows += [f"| `{page}` | `{p.name}` | {p.what} | {p.allowed} |" for p in params.values()]
    return "\n".join(rows)
