"""Train a run once and keep it on disk: later starts load it instead of training it again.

The app's shared default model (the tutorial's softmax regression) takes 1-2 s to train on
one core, on the path of a cold server's first page. Its result is fixed by its settings,
the data and the code, so the first server to train it saves it here and every later
start loads it in ~15 ms.

The file's name carries a key of all that decides the result:
  * the training settings (TrainConfig, seed included),
  * the data (a SHA-256 of all four tensors: ~70 ms for the 55 MB),
  * the code that trains and stores it (the source of models, config, loop, run, optim,
    scaling, checkpoint) and torch's version.
Change any of them and the key changes, so a stale file is never used. A file that cannot
be read is trained again and replaced; a folder that cannot be written only means no cache.
Files are read with the checkpoint loader (torch.load(weights_only=True)), as for uploads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import NamedTuple

import torch

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import PROJECT_DATA_DIR, FashionMNIST
from .run import TrainingRun

ENV_VAR = "FMNIST_MODEL_CACHE"  # a folder for the saved models, or "off" for none
# Each change to the code or the data makes a new file (~40 KB for softmax); older ones of the
# same model kind beyond this many are removed when a new one is saved.
KEEP_PER_KIND = 8
DEFAULT_DIR = PROJECT_DATA_DIR / "models"

# The modules whose source decides what a training run computes and how it is stored.
_CODE_FILES = ("models.py", "config.py", "loop.py", "augment.py", "run.py", "optim.py", "scaling.py", "checkpoint.py")


def cache_dir() -> Path | None:
    """The folder for saved models: $FMNIST_MODEL_CACHE, or data/models; None when it is "off"."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value.lower() in ("off", "0", "none", "false"):
        return None
    return Path(value).expanduser() if value else DEFAULT_DIR


def data_fingerprint(data: FashionMNIST) -> str:
    """SHA-256 of the four tensors' bytes (and shapes): two data sets with the same one are the same data."""
    h = hashlib.sha256()
    for t in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        t = t.contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(memoryview(t.numpy()).cast("B"))
    return h.hexdigest()


def _code_fingerprint() -> str:
    h = hashlib.sha256(torch.__version__.encode())
    here = Path(__file__).parent
    for name in _CODE_FILES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def cache_key(config: TrainConfig, data: FashionMNIST) -> str:
    """A short key of everything that decides the trained run (see the module docstring)."""
    parts = {"config": config.to_dict(), "data": data_fingerprint(data), "code": _code_fingerprint()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def cache_path(config: TrainConfig, data: FashionMNIST, folder: Path) -> Path:
    return folder / f"{config.model}-{cache_key(config, data)}.pt"


class Fitted(NamedTuple):
    run: TrainingRun
    path: Path | None  # the file it was loaded from or saved to; None when not saved
    trained_now: bool  # False: loaded from `path`


def fit_or_load(
    config: TrainConfig,
    data: FashionMNIST,
    folder: str | os.PathLike | None,
    *,
    test_every_epoch: bool = True,
) -> Fitted:
    """A run of `config` trained to the end on `data`: loaded from `folder` if it was saved there
    before, else trained now (and saved, when the folder can be written). folder None: no saving.
    A run that did not finish (it diverged) is returned but not saved.
    """
    path = cache_path(config, data, Path(folder)) if folder is not None else None
    if path is not None and _is_file(path):
        try:
            run = load_checkpoint(path)
        except CheckpointError:
            run = None  # damaged (a crash mid-write on a filesystem without atomic rename, say): train again
        if run is not None and run.config == config and run.epochs_done == config.epochs:
            run.message = f"Loaded from {path.name}: trained earlier with the same settings, data and code."
            return Fitted(run, path, trained_now=False)
    run = TrainingRun(config)
    run.fit(data, test_every_epoch=test_every_epoch)
    if path is None or run.status != "finished":
        return Fitted(run, None, trained_now=True)
    problem = _save(run, path)
    if problem is not None:
        run.message = f"Trained now; it could not be saved in {path.parent}: {problem}."
        return Fitted(run, None, trained_now=True)
    run.message = f"Trained now and saved as {path.name} for the next starts."
    return Fitted(run, path, trained_now=True)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a folder this process may not search (PermissionError): as if empty
        return False


def _save(run: TrainingRun, path: Path) -> str | None:
    """Save (atomically, see save_checkpoint); None when saved, else why not, in a few words."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(run, path)
    except OSError as e:  # a read-only folder, a full disk: fine, the next start trains again
        return e.strerror or str(e).splitlines()[0][:200] or type(e).__name__
    _prune(path.parent, run.config.model)
    return None


def _prune(folder: Path, kind: str) -> None:
    """Remove all but the KEEP_PER_KIND newest saved runs of this model kind."""
    with contextlib.suppress(OSError):  # another server pruning at the same time, say: next time
        files = sorted(folder.glob(f"{kind}-*.pt"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in files[KEEP_PER_KIND:]:
            old.unlink(missing_ok=True)
