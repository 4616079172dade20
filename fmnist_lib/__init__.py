"""fmnist_lib: Fashion-MNIST softmax regression (and a small CNN) on the CPU, without any UI.

Data in memory as uint8 tensors (data), the two models (models), training settings
(config), the epoch loop (loop), a resumable run (run), the preprocessing contract
(scaling), predictions (inference), safe checkpoints (checkpoint), a run trained once
and kept on disk (model_cache), the torch-free image modules (images: safe decoding, tilt estimates,
photo preprocessing) and a CLI (`python -m fmnist_lib`).

The names below are re-exported lazily (PEP 562): `from fmnist_lib import TrainConfig` works
as before, but importing the package itself imports nothing heavy, so fmnist_lib.images (and
any other torch-free module) can be imported without torch.
"""

from __future__ import annotations

import importlib

# Each re-exported name -> the submodule that defines it (imported on first use).
_EXPORTS = {
    "CheckpointError": "checkpoint",
    "checkpoint_bytes": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "DEFAULT_CONFIGS": "config",
    "OPTIMIZERS": "config",
    "TrainConfig": "config",
    "default_config": "config",
    "CLASSES": "data",
    "DataCorruptError": "data",
    "DataError": "data",
    "DataNotFoundError": "data",
    "FashionMNIST": "data",
    "load_fashion_mnist": "data",
    "Classifier": "inference",
    "Prediction": "inference",
    "accuracy": "inference",
    "confusion_matrix": "inference",
    "predict_logits": "inference",
    "softmax_with_temperature": "inference",
    "Progress": "loop",
    "train_epoch": "loop",
    "Fitted": "model_cache",
    "fit_or_load": "model_cache",
    "MODEL_KINDS": "models",
    "SmallCNN": "models",
    "SoftmaxRegression": "models",
    "build_model": "models",
    "EpochStats": "run",
    "RunBusyError": "run",
    "TrainingRun": "run",
    "InputScaling": "scaling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import a re-exported name's submodule on first use (PEP 562), then keep the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
