"""What defines a training run: `TrainConfig`, each model's recommended settings and its input scaling."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from .models import MODEL_KINDS
from .scaling import STANDARDIZED, UNIT

OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "cosine", "onecycle")
# "mirror": random mirror images; "mirror+shift": also whole-pixel shifts and some rescaling (augment.py).
AUGMENTATIONS = ("off", "mirror", "mirror+shift")
# One-cycle: the lr climbs from lr / ONECYCLE_START to lr over the first ONECYCLE_WARMUP of all
# steps, then falls along a cosine to ~0. A short run gets large steps early and settles at the end.
ONECYCLE_WARMUP = 0.25
ONECYCLE_START = 25.0


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. `default_config(model)` gives each model's recommended values."""

    model: str = "softmax"  # "softmax" (the tutorial's Flatten + Linear) or "cnn"
    lr: float = 0.1  # step size; 0.1 is the tutorial's for softmax with plain SGD
    epochs: int = 10  # passes over the 60,000 training images (the tutorial's 10)
    batch_size: int = 256  # examples per gradient step (the tutorial's 256)
    optimizer: str = "sgd"  # "sgd", "momentum" (SGD with momentum 0.9) or "adam"
    weight_decay: float = 0.0  # L2 penalty on the weights; 0 = none, as in the tutorial
    seed: int = 0  # seeds the initial weights and the shuffling: same seed, same run
    schedule: str = "constant"  # "cosine" lowers the lr smoothly towards 0 over the epochs: steadier final accuracy
    # ("onecycle": warms up, then falls to ~0, step by step; see lr_at)
    augment: str = "off"  # train on randomly mirrored ("mirror"), also shifted and rescaled copies; off: the tutorial's

    def __post_init__(self) -> None:
        self.validate()  # once, where a config is made: every TrainConfig that exists is valid

    def validate(self) -> TrainConfig:
        """Raise ValueError naming every invalid setting (called by __post_init__)."""
        problems = []
        if self.model not in MODEL_KINDS:
            problems.append(f"model must be one of {', '.join(MODEL_KINDS)}, not {self.model!r}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            problems.append(f"learning rate must be a positive number, not {self.lr!r}")
        if not (isinstance(self.epochs, int) and 1 <= self.epochs <= 1000):
            problems.append(f"epochs must be a whole number from 1 to 1000, not {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 60_000):
            problems.append(f"batch size must be a whole number from 1 to 60000, not {self.batch_size!r}")
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay < 1):
            problems.append(f"weight decay must be from 0 to 1, not {self.weight_decay!r}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.augment not in AUGMENTATIONS:
            problems.append(f"augment must be one of {', '.join(AUGMENTATIONS)}, not {self.augment!r}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            problems.append(f"seed must be a non-negative whole number, not {self.seed!r}")
        if problems:
            raise ValueError("Invalid training settings: " + "; ".join(problems) + ".")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


DEFAULT_CONFIGS = {
    "softmax": TrainConfig(),  # the tutorial's settings
    # Adam with BatchNorm, 5 one-cycle epochs peaking at 4e-3, trained on mirror images too: the cheapest
    # row of bench/bench_cnn_sweep.py at >= 92% (shifts and rescaling cost ~1 point of test accuracy).
    "cnn": TrainConfig(
        model="cnn", lr=4e-3, epochs=5, batch_size=128, optimizer="adam", schedule="onecycle", augment="mirror"
    ),
}

# Softmax keeps the tutorial's [0, 1] pixels; the CNN trains on standardised pixels.
DEFAULT_SCALING = {"softmax": UNIT, "cnn": STANDARDIZED}


# The learning rate that trains each model well with each optimizer: the best of a quick 2-epoch measurement
# (bench/results/optimizer_lr.md); plain SGD's are the models' defaults (softmax: the tutorial's 0.1), the CNN's
# Adam its default (bench/results/cnn_sweep.md). The Train page's slider moves there when an optimizer is
# chosen, and a diverged run is told to try it: a tenth of the rate that blew up can still be far too large
# (softmax with SGD at lr 10 diverges; at 1 it trains to 63.6% in 10 epochs, at 0.1 to 82.3%).
RECOMMENDED_LR = {
    ("softmax", "sgd"): 0.1,
    ("softmax", "momentum"): 0.02,
    ("softmax", "adam"): 2e-3,
    ("cnn", "sgd"): 0.1,
    ("cnn", "momentum"): 0.05,
    ("cnn", "adam"): 4e-3,
}


def suggested_lr(config: TrainConfig) -> float:
    """The rate to try after `config` diverged: the model's recommended one for its optimizer if smaller than
    config.lr, else a tenth of config.lr (the run diverged even at or below the recommended rate)."""
    recommended = RECOMMENDED_LR.get((config.model, config.optimizer), config.lr / 10)
    return recommended if recommended < config.lr else config.lr / 10


def default_config(model: str = "softmax", **overrides) -> TrainConfig:
    """The model's recommended settings, with any field overridden (None means keep the default)."""
    if model not in DEFAULT_CONFIGS:
        raise ValueError(f"Unknown model {model!r}; choose one of {', '.join(MODEL_KINDS)}.")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(DEFAULT_CONFIGS[model], **changes)


def lr_at(config: TrainConfig, epoch: int, step: int = 0, steps_per_epoch: int = 1) -> float:
    """The learning rate at (0-based) `step` of (1-based) `epoch`: the one place the schedule is computed.

    constant: config.lr. cosine: lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2 for the whole epoch, held at
    its last value for epochs past config.epochs (a continued run). onecycle: climbs from lr / ONECYCLE_START
    to lr over the first ONECYCLE_WARMUP of all steps, then falls along a cosine to ~0; 0 past the end.
    loop.train_epoch sets it before every step; a run's history records each epoch's first."""
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":
        e = min(epoch, config.epochs) - 1
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * e / config.epochs))
    t = min(1.0, ((epoch - 1) * steps_per_epoch + step) / (config.epochs * steps_per_epoch))  # 0 -> 1
    start = config.lr / ONECYCLE_START
    if t < ONECYCLE_WARMUP:
        return start + (config.lr - start) * t / ONECYCLE_WARMUP
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * (t - ONECYCLE_WARMUP) / (1.0 - ONECYCLE_WARMUP)))
