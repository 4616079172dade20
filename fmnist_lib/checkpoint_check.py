"""Check every field of a loaded checkpoint before any of it is used.

torch.load(weights_only=True) guarantees only that a file holds plain data and tensors. A
hand-made file can still hold a history whose accuracy is the string "100%", an input
scaling with std = inf, weights of 3e38 or of dtype bool: each would load, then crash a
page later or predict NaN. So each value is checked for its type, its range and (tensors)
its dtype, shape and finiteness here, and the first problem is reported in words.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import get_type_hints

import torch

from .data import CLASSES


class CheckpointError(ValueError):
    """The file is not a usable checkpoint; the message says why."""


MAX_HISTORY = 5000  # epochs in a run's history (the Train page's runs have at most 1000 + continues)
MAX_CLASS_NAME = 40  # characters: Fashion-MNIST's longest is 11
MAX_ABS_WEIGHT = 1e6  # trained weights are of order 1; beyond this the logits mean nothing
MAX_ABS_OPTIMIZER = 1e12  # Adam's squared-gradient averages may be large, never this large
MAX_STEPS = 10**9


def show(value) -> str:
    """A short, safe rendering of a value for a message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def number(value, what: str, lo: float, hi: float, *, integer: bool = False) -> float | int:
    """value as a finite int/float within [lo, hi], else CheckpointError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckpointError(f"{what} is {show(value)}, not a number.")
    if integer and not isinstance(value, int):
        raise CheckpointError(f"{what} is {show(value)}, not a whole number.")
    if not math.isfinite(value):
        raise CheckpointError(f"{what} is {value}, not a finite number.")
    if not lo <= value <= hi:
        raise CheckpointError(f"{what} is {value:g}; it must be from {lo:g} to {hi:g}.")
    return value


def text(value, what: str, max_len: int) -> str:
    if not isinstance(value, str):
        raise CheckpointError(f"{what} is {show(value)}, not text.")
    if not 1 <= len(value) <= max_len or not value.isprintable():
        raise CheckpointError(f"{what} {show(value)} must be 1 to {max_len} printable characters.")
    return value


def plain_dict(value, what: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise CheckpointError(f"{what} is {type(value).__name__}, not a table of named fields.")
    keys = set(value)
    if not all(isinstance(k, str) for k in keys):
        raise CheckpointError(f"{what} has a field whose name is not text.")
    if missing := sorted(required - keys):
        raise CheckpointError(f"{what} lacks {', '.join(missing)}.")
    if unexpected := sorted(keys - allowed):
        raise CheckpointError(f"{what} has unexpected fields: {', '.join(map(show, unexpected))[:200]}.")
    return value


def classes(value) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise CheckpointError(f"The class names are {type(value).__name__}, not a list.")
    if len(value) != len(CLASSES):
        raise CheckpointError(f"The checkpoint has {len(value)} classes; Fashion-MNIST has {len(CLASSES)}.")
    return tuple(text(c, f"Class name {i}", MAX_CLASS_NAME) for i, c in enumerate(value))


# EpochStats field -> (lo, hi, whole number?); test_acc may also be None (not evaluated).
_HISTORY_RANGES = {
    "epoch": (1, MAX_HISTORY, True),
    "train_loss": (0.0, 1e6, False),
    "train_acc": (0.0, 1.0, False),
    "test_acc": (0.0, 1.0, False),
    "seconds": (0.0, 1e7, False),
    "examples_per_sec": (0.0, 1e10, False),
    "examples": (0, 10**8, True),
    "lr": (0.0, 1e6, False),
}


def history(value, stats_type) -> list:
    """The history as a list of `stats_type` (EpochStats), each entry checked."""
    if not isinstance(value, list):
        raise CheckpointError(f"The history is {type(value).__name__}, not a list.")
    if len(value) > MAX_HISTORY:
        raise CheckpointError(f"The history has {len(value)} epochs; at most {MAX_HISTORY} are read.")
    names = {f.name for f in fields(stats_type)}
    required = {f.name for f in fields(stats_type) if f.name not in ("complete", "lr")}  # newer fields default
    out = []
    for i, entry in enumerate(value):
        what = f"History epoch {i + 1}"
        entry = plain_dict(entry, what, names, required)
        clean = {}
        for key, v in entry.items():
            if key == "complete":
                if not isinstance(v, bool):
                    raise CheckpointError(f"{what}: complete is {show(v)}, not true or false.")
                clean[key] = v
            elif key == "test_acc" and v is None:
                clean[key] = None
            else:
                lo, hi, integer = _HISTORY_RANGES[key]
                n = number(v, f"{what}: {key}", lo, hi, integer=integer)
                clean[key] = n if integer else float(n)
        if clean["epoch"] != i + 1:
            raise CheckpointError(f"{what} is numbered {clean['epoch']}: the epochs are out of order.")
        out.append(stats_type(**clean))
    return out


def config_dict(value, config_type) -> dict:
    """The config's fields with the right types; their ranges are TrainConfig.validate's."""
    allowed = {f.name for f in fields(config_type)}
    types = get_type_hints(config_type)  # from the dataclass itself: a new field is checked too
    value = plain_dict(value, "The training settings", allowed, {"model"})
    for key, v in value.items():
        want = types.get(key, object)
        ok = isinstance(v, str) if want is str else number_like(v, integer=want is int)
        if not ok:
            raise CheckpointError(f"The training setting {key} is {show(v)}, not {_TYPE_WORDS[want]}.")
    return value


_TYPE_WORDS = {str: "text", int: "a whole number", float: "a number", object: "a value"}


def number_like(v, *, integer: bool) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) if integer else isinstance(v, (int, float))


def tensor_values(t: torch.Tensor, what: str, max_abs: float) -> None:
    """Finite and within +-max_abs (float tensors); any problem named with `what`."""
    if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
        raise CheckpointError(f"{what} contains NaN or infinite values.")
    if t.numel() and float(t.abs().max()) > max_abs:
        raise CheckpointError(f"{what} holds values up to {float(t.abs().max()):.3g}; at most {max_abs:g} is sane.")


def plain_tensor(t, what: str) -> torch.Tensor:
    if type(t) not in (torch.Tensor, torch.nn.Parameter):
        raise CheckpointError(f"{what} is {type(t).__name__}, not a tensor.")
    if t.layout != torch.strided or t.is_quantized or t.device.type != "cpu":
        raise CheckpointError(f"{what} is not a plain (dense) tensor.")
    return t


def weights(state: object, expected: dict[str, torch.Tensor], kind: str) -> dict[str, torch.Tensor]:
    """The weights, with exactly the model's names, dtypes and shapes, finite and of sane size."""
    if not isinstance(state, dict):
        raise CheckpointError(f"The weights are {type(state).__name__}, not a table of tensors.")
    keys, want = set(state), set(expected)
    if keys != want:
        missing = ", ".join(sorted(want - keys)) or "none"
        extra = ", ".join(show(k) for k in sorted(map(str, keys - want))) or "none"
        raise CheckpointError(f"The weights do not fit the {kind} model: missing {missing}; unexpected {extra[:200]}.")
    for name, ref in expected.items():
        t = plain_tensor(state[name], f"The weight {name}")
        if t.dtype != ref.dtype:
            raise CheckpointError(f"The weight {name} is {t.dtype}; the {kind} model's is {ref.dtype}.")
        if t.shape != ref.shape:
            raise CheckpointError(
                f"The weight {name} has shape {list(t.shape)}; the {kind} model's has {list(ref.shape)}."
            )
        tensor_values(t, f"The weight {name}", MAX_ABS_WEIGHT if ref.is_floating_point() else MAX_STEPS)
        if (name.endswith("running_var") or name.endswith("num_batches_tracked")) and t.numel() and t.min() < 0:
            raise CheckpointError(f"The weight {name} is negative, which it can never be.")
    return state


def optimizer_state(sd, optimizer) -> str | None:
    """Why the saved optimizer state cannot be used with `optimizer` (None: it can)."""
    if not isinstance(sd, dict) or set(sd) - {"kind", "group", "steps", "state"}:
        return "it is not this app's optimizer state"
    if sd.get("kind") != optimizer.kind:
        return f"it is for {show(sd.get('kind'))}, not {optimizer.kind}"
    group = sd.get("group", {})
    own = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
    if not isinstance(group, dict) or set(group) - set(own):
        return "its settings are not this optimizer's"
    for key, v in group.items():
        values = v if isinstance(v, (list, tuple)) else [v]
        if not values or not all(number_like(x, integer=False) and math.isfinite(x) and abs(x) <= 1e6 for x in values):
            return f"its setting {key} is {show(v)}"
    if not number_like(sd.get("steps", 0), integer=True) or not 0 <= sd.get("steps", 0) <= MAX_STEPS:
        return "its step count is not a sane whole number"
    state = sd.get("state", {})
    if not isinstance(state, dict):
        return "its buffers are not a table"
    for key, buffers in state.items():
        if not isinstance(buffers, list) or len(buffers) != len(optimizer.params):
            return f"its {show(key)} buffers do not match the model's parameters"
        for b, p in zip(buffers, optimizer.params, strict=True):
            if b is None:
                continue
            if type(b) is not torch.Tensor or b.layout != torch.strided or b.dtype != p.dtype or b.shape != p.shape:
                return f"its {show(key)} buffers do not match the model's parameters"
            try:
                tensor_values(b, "a buffer", MAX_ABS_OPTIMIZER)
            except CheckpointError:
                return f"its {show(key)} buffers hold NaN, infinite or absurd values"
    return None


def generator_state(value, reference: torch.Tensor) -> torch.Tensor:
    if type(value) is not torch.Tensor or value.dtype != reference.dtype or value.shape != reference.shape:
        raise CheckpointError("The shuffling generator's state is not a state of torch's CPU generator.")
    return value
