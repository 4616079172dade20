"""fmnist_lib: Fashion-MNIST softmax regression (and a small CNN) on the CPU, without any UI.

Data in memory as uint8 tensors (data), the two models (models), the training
loop (training), the preprocessing contract (scaling), predictions (inference),
safe checkpoints (checkpoint), a run trained once and kept on disk (model_cache),
photo preprocessing (preprocess) and a CLI (`python -m fmnist_lib`).
"""

from .checkpoint import CheckpointError, checkpoint_bytes, load_checkpoint, save_checkpoint
from .data import (
    CLASSES,
    DataCorruptError,
    DataError,
    DataNotFoundError,
    FashionMNIST,
    load_fashion_mnist,
)
from .inference import Classifier, Prediction, confusion_matrix, predict_logits, softmax_with_temperature
from .model_cache import Fitted, fit_or_load
from .models import MODEL_KINDS, MODEL_TITLES, SmallCNN, SoftmaxRegression, build_model
from .scaling import InputScaling
from .training import (
    DEFAULT_CONFIGS,
    OPTIMIZER_TITLES,
    OPTIMIZERS,
    EpochStats,
    Progress,
    RunBusyError,
    TrainConfig,
    TrainingRun,
    default_config,
    evaluate,
    train_epoch,
)

__all__ = [
    "CLASSES",
    "DEFAULT_CONFIGS",
    "MODEL_KINDS",
    "MODEL_TITLES",
    "OPTIMIZERS",
    "OPTIMIZER_TITLES",
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
    "checkpoint_bytes",
    "confusion_matrix",
    "default_config",
    "evaluate",
    "fit_or_load",
    "load_checkpoint",
    "load_fashion_mnist",
    "predict_logits",
    "save_checkpoint",
    "softmax_with_temperature",
    "train_epoch",
]
