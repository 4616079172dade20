"""Save and load a TrainingRun safely.

A checkpoint is a plain dict of strings, numbers, lists and tensors written
with torch.save, and read back with torch.load(weights_only=True): PyTorch's
restricted unpickler, which refuses any object that is not one of those, so a
file carrying code is refused and nothing in it runs.
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
from typing import BinaryIO

import torch

from .config import TrainConfig
from .data import CLASSES
from .run import EpochStats, TrainingRun
from .scaling import InputScaling

FORMAT = "fmnist-lab-checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 50 * 1024 * 1024  # our largest (the CNN, with Adam state) is ~3 MB


class CheckpointError(ValueError):
    """The file is not a usable checkpoint; the message says why."""


def checkpoint_dict(run: TrainingRun) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": run.config.model,
        "config": run.config.to_dict(),
        "classes": list(run.classes),
        "scaling": run.scaling.to_dict(),
        "state_dict": {k: v.detach().clone() for k, v in run.model.state_dict().items()},
        "optimizer": run.optimizer.state_dict(),
        "generator": run.generator.get_state(),
        "steps": run.steps,
        "history": [e.to_dict() for e in run.history],
    }


def save_checkpoint(run: TrainingRun, dest: str | os.PathLike | BinaryIO) -> None:
    torch.save(checkpoint_dict(run), dest)


def checkpoint_bytes(run: TrainingRun) -> bytes:
    buf = io.BytesIO()
    save_checkpoint(run, buf)
    return buf.getvalue()


def load_checkpoint(src: str | os.PathLike | bytes | BinaryIO) -> TrainingRun:
    """Rebuild a TrainingRun from a checkpoint file, bytes or file object.

    Raises CheckpointError for anything that is not a checkpoint of this project.
    """
    if isinstance(src, (bytes, bytearray)):
        if len(src) > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"This file is {len(src) / 1e6:.0f} MB; a checkpoint of this app is a few MB.")
        src = io.BytesIO(src)
    elif isinstance(src, (str, os.PathLike)):
        try:
            size = os.path.getsize(src)
        except OSError as e:
            raise CheckpointError(f"Cannot read the checkpoint {os.fspath(src)}: {e.strerror or e}.") from e
        if size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{os.fspath(src)} is {size / 1e6:.0f} MB; a checkpoint of this app is a few MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": we refuse or accept anyway
            obj = torch.load(src, map_location="cpu", weights_only=True)
    except EOFError as e:
        raise CheckpointError("The checkpoint file is empty or cut short.") from e
    except pickle.UnpicklingError as e:
        # A GLOBAL opcode names a Python class or function to call: the hallmark of a pickle
        # that would run code. The restricted unpickler stops there, before calling anything.
        if "weights only load failed" in str(e).lower() and "global" in str(e).lower():
            raise CheckpointError(
                "Refused: this file contains Python objects other than tensors and plain data, "
                "which could run code when loaded, so it was not loaded. Only checkpoints saved "
                "by this app are accepted."
            ) from e
        raise CheckpointError("This file is not a checkpoint saved by this app (it is not a PyTorch file).") from e
    except RuntimeError as e:
        if "zip archive" in str(e):
            raise CheckpointError(
                "This file is damaged or truncated: it starts like a PyTorch checkpoint but cannot be read."
            ) from e
        raise CheckpointError("This file is not a checkpoint saved by this app (it is not a PyTorch file).") from e
    except Exception as e:  # KeyError, ValueError, ...: the legacy reader choking on arbitrary bytes
        raise CheckpointError("This file is not a checkpoint saved by this app (it is not a PyTorch file).") from e
    return _run_from_dict(obj)


def _run_from_dict(obj) -> TrainingRun:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError("This file is a PyTorch file but not a checkpoint of this app.")
    if obj.get("version") != VERSION:
        raise CheckpointError(f"Unsupported checkpoint version {obj.get('version')!r} (this app reads {VERSION}).")
    try:
        config = TrainConfig.from_dict(obj["config"])
        if obj["kind"] != config.model:
            raise CheckpointError("The checkpoint's model kind and config disagree.")
        classes = tuple(str(c) for c in obj["classes"])
        if len(classes) != len(CLASSES):
            raise CheckpointError(f"The checkpoint has {len(classes)} classes; Fashion-MNIST has {len(CLASSES)}.")
        run = TrainingRun(config, classes=classes, scaling=InputScaling.from_dict(obj["scaling"]))
        run.model.load_state_dict(obj["state_dict"], strict=True)
        if not all(torch.isfinite(p).all() for p in run.model.state_dict().values() if p.is_floating_point()):
            raise CheckpointError("The checkpoint's weights contain NaN or infinite values.")
        optimizer_note = ""
        if obj.get("optimizer"):
            try:
                run.optimizer.load_state_dict(obj["optimizer"])
            except (ValueError, KeyError, TypeError, AttributeError):
                # The weights are what matter; an optimizer state this version cannot use
                # (e.g. from an older version) only means continued training starts it afresh.
                optimizer_note = " Its optimizer state could not be used, so training it further starts that afresh."
        if isinstance(obj.get("generator"), torch.Tensor):
            run.generator.set_state(obj["generator"])
        run.steps = int(obj.get("steps", 0))
        run.history = [EpochStats(**e) for e in obj.get("history", [])]
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"The checkpoint is damaged or from another program: {first[:200]}") from e
    run.status = "finished" if run.epochs_done >= config.epochs else "stopped"
    run.message = f"Loaded a checkpoint with {run.epochs_done} epochs of training.{optimizer_note}"
    return run
