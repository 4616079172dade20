"""Save and load a TrainingRun safely.

A checkpoint is a plain dict of strings, numbers, lists and tensors written with
torch.save (a zip archive of a pickle and the tensors' bytes). Loading it, in order:

1. the file: only a regular file of at most MAX_CHECKPOINT_BYTES (files.py);
2. the archive, before torch reads it: a zip whose entries are stored uncompressed, as
   torch.save writes them, whose declared sizes stay within MAX_UNPACKED_BYTES (a zip
   bomb is refused without inflating anything) and whose CRC-32 checksums all match (a
   flipped byte is refused);
3. torch.load(weights_only=True): PyTorch's restricted unpickler, which refuses any object
   that is not plain data or a tensor, so a file carrying code is refused and nothing runs;
4. every field (checkpoint_check.py) before any of it enters a run.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import pickle
import pickletools
import secrets
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

from . import checkpoint_check as check
from .checkpoint_check import CheckpointError
from .config import TrainConfig
from .files import UnreadableFile, read_regular_file
from .run import EpochStats, TrainingRun
from .scaling import InputScaling
from .words import plural

__all__ = [
    "CheckpointError",
    "Limits",
    "checkpoint_bytes",
    "checkpoint_dict",
    "load_checkpoint",
    "load_plain",
    "run_from_dict",
    "save_checkpoint",
]

FORMAT = "fmnist-lab-checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 50 * 1024 * 1024  # our largest (the CNN, with Adam state) is ~3 MB
MAX_UNPACKED_BYTES = MAX_CHECKPOINT_BYTES  # stored entries: unpacked = packed
MAX_PICKLE_BYTES = 4 * 1024 * 1024  # data.pkl: ~1 KB plus ~200 bytes per epoch of history
MAX_ENTRIES = 256  # the CNN's checkpoint has 49


@dataclass(frozen=True)
class Limits:
    """How big a file load_plain reads: a checkpoint's by default; a whole session's (session_store) is larger."""

    max_bytes: int = MAX_CHECKPOINT_BYTES
    max_pickle_bytes: int = MAX_PICKLE_BYTES
    max_entries: int = MAX_ENTRIES
    what: str = "checkpoint"  # how the messages name the file


CHECKPOINT_LIMITS = Limits()
_FIELDS = {"format", "version", "kind", "config", "classes", "scaling", "state_dict"}
_OPTIONAL = {"optimizer", "generator", "steps", "history"}


def checkpoint_dict(run: TrainingRun) -> dict:
    """The run's own state (TrainingRun.state) in this file format: its name, version and model kind first."""
    return {"format": FORMAT, "version": VERSION, "kind": run.config.model, **run.state()}


def save_checkpoint(run: TrainingRun, dest: str | os.PathLike | BinaryIO) -> None:
    """Write the checkpoint; to a path atomically (a reader sees no file or the whole file).

    Raises OSError (with its errno: ENOSPC, EACCES, ENOENT...) when it cannot be written, and
    leaves no partial file behind. The bytes are made in memory (a few MB at most) and written
    by Python, because torch's own file writer reports a full disk as a bare RuntimeError.
    """
    try:
        data = checkpoint_bytes(run)
    except RuntimeError as e:  # torch's writer (out of memory, say): the OSError callers handle
        raise OSError(errno.EIO, f"the checkpoint could not be made ({_first_line(e)})") from e
    if not isinstance(dest, (str, os.PathLike)):
        dest.write(data)
        return
    path = Path(dest)
    # A name of its own per process and call: two savers never share a temporary file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def checkpoint_bytes(run: TrainingRun) -> bytes:
    buf = io.BytesIO()
    torch.save(checkpoint_dict(run), buf)
    return buf.getvalue()


def load_checkpoint(src: str | os.PathLike | bytes | BinaryIO) -> TrainingRun:
    """Rebuild a TrainingRun from a checkpoint file, bytes or file object.

    Raises CheckpointError for anything that is not a usable checkpoint of this project.
    """
    return run_from_dict(load_plain(src))


def load_plain(src: str | os.PathLike | bytes | BinaryIO, limits: Limits = CHECKPOINT_LIMITS) -> object:
    """Steps 1-3 of the module's list: the file, the archive, then torch's restricted unpickler.

    Returns the plain data and tensors the file holds; the caller checks every field (step 4).
    """
    data = _read(src, limits)
    _check_archive(data, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": we refuse or accept anyway
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # A GLOBAL opcode names a Python class or function to call: the hallmark of a pickle
        # that would run code. The restricted unpickler stops there, before calling anything.
        if "global" in str(e).lower():
            raise CheckpointError(_CODE_REFUSED) from e
        raise CheckpointError(f"The {limits.what}'s data cannot be read: {_first_line(e)}") from e
    except Exception as e:  # RuntimeError, ValueError, ... from torch's reader on a damaged archive
        raise CheckpointError(f"The {limits.what}'s archive is damaged: {_first_line(e)}") from e
    return obj


_CODE_REFUSED = (
    "Refused: this file contains Python objects other than tensors and plain data, which could run "
    "code when loaded, so it was not loaded. Only checkpoints saved by this app are accepted."
)
_NOT_OURS = "This file is not a checkpoint saved by this app (it is not a PyTorch checkpoint)."


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


def _read(src, limits: Limits) -> bytes:
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif isinstance(src, (str, os.PathLike)):
        try:
            data = read_regular_file(src, limits.max_bytes, limits.what)
        except UnreadableFile as e:
            raise CheckpointError(str(e)) from e
    else:
        try:
            data = src.read(limits.max_bytes + 1)
        except Exception as e:  # an upload or stream that fails while being read
            raise CheckpointError(f"The {limits.what} could not be read: {_first_line(e)}") from e
        if not isinstance(data, bytes):
            raise CheckpointError(f"The {limits.what} could not be read: the stream gave no bytes.")
    if len(data) > limits.max_bytes:
        raise CheckpointError(f"This file is over {limits.max_bytes / 1e6:.0f} MB; no {limits.what} of this app is.")
    if not data:
        raise CheckpointError(f"The {limits.what} file is empty.")
    return data


def _check_archive(data: bytes, limits: Limits) -> None:
    """Refuse what torch.load should not read: no zip, a truncated or damaged one, a bomb."""
    if not data.startswith(b"PK\x03\x04"):
        raise CheckpointError(_CODE_REFUSED if _is_code_pickle(data) else _NOT_OURS)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise CheckpointError(
            f"This {limits.what} is truncated or damaged: it starts like one (a zip archive) but its "
            f"directory at the end of the file is missing or broken ({len(data):,} bytes; {_first_line(e)}). "
            "A download or copy that was cut short looks like this: download it again."
        ) from e
    if len(infos) > limits.max_entries:
        raise CheckpointError(
            f"The {limits.what}'s archive has {len(infos)} entries; this app's have at most {limits.max_entries}."
        )
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_bytes:  # stored entries: unpacked = packed
        raise CheckpointError(
            f"Refused: the archive declares {declared / 1e6:,.0f} MB once unpacked (at most "
            f"{limits.max_bytes / 1e6:.0f} MB is read), which no {limits.what} of this app needs: "
            f"a zip bomb, or not a {limits.what} of this app."
        )
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"Refused: the archive's entry {check.show(info.filename)} is compressed; torch.save "
                "stores its entries uncompressed, so this file was not written by this app."
            )
        if info.filename.endswith("data.pkl") and info.file_size > limits.max_pickle_bytes:
            raise CheckpointError(
                f"The {limits.what}'s data ({info.file_size / 1e6:.1f} MB) is larger than any of this app's."
            )
    for info in infos:  # zipfile checks each entry's CRC-32 when its end is read
        try:
            with archive.open(info) as f:
                while f.read(1 << 20):
                    pass
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise CheckpointError(
                f"This {limits.what} is damaged: its entry {check.show(info.filename)} fails its checksum "
                f"({_first_line(e)}), so bytes changed after it was saved. Download it again."
            ) from e


def _is_code_pickle(data: bytes) -> bool:
    """Whether the bytes are a pickle naming a Python callable (read opcode by opcode, never run)."""
    try:  # the whole pickle must parse: text can look like a few opcodes, then breaks
        names = {op.name for op, _, _ in pickletools.genops(io.BytesIO(data))}
    except Exception:  # not a pickle, or a broken one
        return False
    return bool(names & {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE"})


def run_from_dict(obj) -> TrainingRun:
    """A run from a checkpoint's dict as torch.load(weights_only=True) gave it: every field checked."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError("This file is a PyTorch file but not a checkpoint of this app.")
    if obj.get("version") != VERSION:
        raise CheckpointError(
            f"Unsupported checkpoint version {check.show(obj.get('version'))} (this app reads {VERSION})."
        )
    check.plain_dict(obj, "The checkpoint", _FIELDS | _OPTIONAL, _FIELDS)
    try:
        config = TrainConfig.from_dict(check.config_dict(obj["config"], TrainConfig))
    except ValueError as e:
        raise CheckpointError(f"The checkpoint's settings are not valid: {e}") from e
    if obj["kind"] != config.model:
        raise CheckpointError("The checkpoint's model kind and config disagree.")
    classes = check.classes(obj["classes"])
    scaling_d = check.plain_dict(obj["scaling"], "The input scaling", {"mean", "std"}, {"mean", "std"})
    try:
        scaling = InputScaling(
            mean=float(check.number(scaling_d["mean"], "The input scaling's mean", -1e6, 1e6)),
            std=float(check.number(scaling_d["std"], "The input scaling's std", -1e6, 1e6)),
        )
    except ValueError as e:
        raise CheckpointError(f"The checkpoint's input scaling is not usable: {e}") from e
    history = check.history(obj.get("history", []), EpochStats)
    steps = check.number(obj.get("steps", 0), "The step count", 0, check.MAX_STEPS, integer=True)

    run = TrainingRun(config, classes=classes, scaling=scaling)
    state = check.weights(obj["state_dict"], run.model.state_dict(), config.model)
    run.model.load_state_dict(state, strict=True)
    optimizer_note = ""
    if obj.get("optimizer"):
        why = check.optimizer_state(obj["optimizer"], run.optimizer)
        if why is None:
            run.optimizer.load_state_dict(obj["optimizer"])
        else:
            # The weights are what matter; an optimizer state this version cannot use (an older
            # version's, say) only means that training it further starts the optimizer afresh.
            optimizer_note = (
                f" Its optimizer state could not be used ({why}), so training it further starts that afresh."
            )
    if "generator" in obj:
        gen = check.generator_state(obj["generator"], run.generator.get_state())
        try:
            run.generator.set_state(gen)
        except RuntimeError as e:
            raise CheckpointError("The shuffling generator's state is not valid.") from e
    run.steps = steps
    run.history = history
    run.status = "finished" if run.epochs_done >= config.epochs else "stopped"
    # Said after the file's name ("Loaded **x.pt**: a checkpoint with ..."), so it does not say "Loaded" again.
    run.message = f"A checkpoint with {plural(run.epochs_done, 'epoch')} of training.{optimizer_note}"
    return run
