"""fmnist_lib: Fashion-MNIST softmax regression (and a small CNN) on the CPU, without any UI.

Data in memory as uint8 tensors (data), the two models (models), training settings
(config), the epoch loop (loop), a resumable run (run), the preprocessing contract
(scaling), predictions (inference), safe checkpoints (checkpoint), a run trained once
and kept on disk (model_cache), safe image decoding (decode), tilt estimates (deskew),
photo preprocessing (preprocess) and a CLI (`python -m fmnist_lib`).
"""

from .checkpoint import CheckpointError, checkpoint_bytes, load_checkpoint, save_checkpoint
from .config import DEFAULT_CONFIGS, OPTIMIZERS, TrainConfig, default_config
from .data import (
    CLASSES,
    DataCorruptError,
    DataError,
    DataNotFoundError,
    FashionMNIST,
    load_fashion_mnist,
)
from .inference import Classifier, Prediction, accuracy, confusion_matrix, predict_logits, softmax_with_temperature
from .loop import Progress, train_epoch
from .model_cache import Fitted, fit_or_load
from .models import MODEL_KINDS, SmallCNN, SoftmaxRegression, build_model
from .run import EpochStats, RunBusyError, TrainingRun
from .scaling import InputScaling

__all__ = [
    "CLASSES",
    "DEFAULT_CONFIGS",
    "MODEL_KINDS",
    "OPTIMIZERS",
    "CheckpointError",
    "Classifier",
    "DataCorruptError",
    "DataError",
    "DataNotFoundError",
    "EpochStats",
    "FashionMNIST",
    "Fitted",
    "InputScaling",
    "Prediction",
    "Progress",
    "RunBusyError",
    "SmallCNN",
    "SoftmaxRegression",
    "TrainConfig",
    "TrainingRun",
    "build_model",
    "accuracy",
    "checkpoint_bytes",
    "confusion_matrix",
    "default_config",
    "fit_or_load",
    "load_checkpoint",
    "load_fashion_mnist",
    "predict_logits",
    "save_checkpoint",
    "softmax_with_temperature",
    "train_epoch",
]
