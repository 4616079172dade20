"""Training on the in-memory tensors: config, one epoch, evaluation, and a resumable run.

The loop shuffles by permutation and slices batches straight out of the uint8
tensors (no DataLoader, no per-sample PIL transforms): a softmax epoch over
60,000 images takes a few hundredths of a second on two cores.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

from .data import CLASSES, FashionMNIST
from .inference import Classifier, accuracy
from .models import MODEL_KINDS, SoftmaxRegression, build_model
from .optim import SGD, Adam, Optimizer
from .scaling import STANDARDIZED, UNIT, InputScaling

OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "cosine")
OPTIMIZER_TITLES = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}

# A loss above this means the model gives the right class a probability below e^-50:
# far worse than guessing (ln 10 = 2.3). Only a diverging run gets there.
EXPLODING_LOSS = 50.0


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

    def validate(self) -> TrainConfig:
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
        return cls(**{k: v for k, v in d.items() if k in names}).validate()


DEFAULT_CONFIGS = {
    "softmax": TrainConfig(),  # the tutorial's settings
    # Adam with BatchNorm, lr decayed to 0 over 8 epochs: >= 91% test accuracy in ~75 s on 2 cores.
    "cnn": TrainConfig(model="cnn", lr=1e-3, epochs=8, batch_size=128, optimizer="adam", schedule="cosine"),
}

# Softmax keeps the tutorial's [0, 1] pixels; the CNN trains on standardised pixels.
DEFAULT_SCALING = {"softmax": UNIT, "cnn": STANDARDIZED}


def default_config(model: str = "softmax", **overrides) -> TrainConfig:
    """The model's recommended settings, with any field overridden (None means keep the default)."""
    if model not in DEFAULT_CONFIGS:
        raise ValueError(f"Unknown model {model!r}; choose one of {', '.join(MODEL_KINDS)}.")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(DEFAULT_CONFIGS[model], **changes).validate()


def make_optimizer(model: nn.Module, config: TrainConfig) -> Optimizer:
    """The optimizer the config names (torch.optim's update rules; see optim.py for why not torch.optim)."""
    params = model.parameters()
    if config.optimizer == "sgd":
        return SGD(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "momentum":
        return SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    return Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def set_threads(n: int | None) -> int:
    """Use n CPU threads for torch's maths (None: leave it); returns the number in use.

    The app uses 1: with a browser (or another session) busy on the same few cores, torch's
    second thread spins waiting for work and slows small softmax steps down about twofold
    (measured: Train to "Test accuracy" 5.7 s with 2 threads, 2.9 s with 1, in Chromium on 2 cores).
    """
    if n is not None:
        torch.set_num_threads(max(1, int(n)))
    return torch.get_num_threads()


def lr_at(config: TrainConfig, epoch: int) -> float:
    """The learning rate of (1-based) `epoch`. Cosine: lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2,
    held at its last value for epochs past config.epochs (a continued run)."""
    if config.schedule == "constant":
        return config.lr
    e = min(epoch, config.epochs) - 1
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * e / config.epochs))


def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The training loss: mean cross-entropy on logits (log-softmax + NLL, computed stably)."""
    return F.cross_entropy(logits, labels)


@dataclass
class EpochStats:
    """One line of a run's history."""

    epoch: int  # 1-based
    train_loss: float  # mean cross-entropy over the examples seen this epoch
    train_acc: float  # accuracy on those examples, while the weights were changing
    test_acc: float | None  # accuracy on the 10,000 test images after the epoch (None: not evaluated, see fit)
    seconds: float  # wall time of the epoch, including its test evaluation
    examples_per_sec: float  # training examples per second of that wall time
    examples: int  # training examples seen (60,000 unless stopped part-way)
    complete: bool = True  # False when the epoch was stopped part-way
    lr: float = 0.0  # the learning rate used in this epoch

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    """Passed to the progress callback every few steps."""

    epoch: int
    step: int  # steps done in this epoch
    steps_per_epoch: int
    examples: int  # examples done in this epoch
    loss: float  # mean loss over this epoch so far


class TrainingDiverged(Exception):
    """The loss became NaN, infinite or exploded; the message explains it to a learner."""


class RunBusyError(RuntimeError):
    """Another loop is training this run right now."""


@dataclass
class _EpochResult:
    loss_sum: float
    correct: int
    seen: int
    stopped: bool


def _divergence_message(loss: float, step: int, epoch: int, config: TrainConfig) -> str:
    what = "NaN (not a number)" if math.isnan(loss) else "infinite" if math.isinf(loss) else f"{loss:.3g}"
    return (
        f"Training stopped: the loss became {what} at step {step} (epoch {epoch}). "
        f"A learning rate of {config.lr:g} is too large for this model: each step overshoots "
        "the minimum, so the weights grow instead of settling and the loss blows up. "
        f"Try a smaller learning rate, such as {config.lr / 10:g}. "
        "The model was rolled back to where it was before this epoch."
    )


def train_epoch(
    model: nn.Module,
    optimizer: Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    scaling: InputScaling,
    batch_size: int,
    generator: torch.Generator,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    epoch: int = 1,
    first_step: int = 0,
    progress_every: int = 25,
    config: TrainConfig | None = None,
) -> _EpochResult:
    """One pass over (images [N,28,28] uint8, labels [N] int64) in a random order.

    Stops between steps when should_stop() is true. Raises TrainingDiverged when
    the loss is not finite or explodes (the caller restores the weights).
    """
    model.train()
    n = len(labels)
    perm = torch.randperm(n, generator=generator)
    flat = images.view(n, -1)  # rows of 784 bytes: index_select copies whole rows
    steps = math.ceil(n / batch_size)
    closed_form = isinstance(model, SoftmaxRegression)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    seen = 0
    for step in range(steps):
        if should_stop is not None and should_stop():
            return _EpochResult(float(loss_sum), int(correct), seen, stopped=True)
        idx = perm[step * batch_size : (step + 1) * batch_size]
        rows = flat.index_select(0, idx)  # [B, 784] uint8
        y = labels.index_select(0, idx)  # [B]
        if closed_form:
            x = scaling.apply(rows)  # [B, 784] float: softmax regression works on flat rows
            losses, logits = model.cross_entropy_gradients(x, y)
            batch_loss = losses.sum()
        else:
            x = scaling.apply(rows.view(-1, 28, 28))  # [B, 1, 28, 28] float
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            batch_loss = loss.detach() * len(y)
        loss_value = float(batch_loss) / len(y)
        if not math.isfinite(loss_value) or loss_value > EXPLODING_LOSS:
            raise TrainingDiverged(
                _divergence_message(loss_value, first_step + step + 1, epoch, config or TrainConfig())
            )
        optimizer.step()
        loss_sum += batch_loss
        correct += (logits.detach().argmax(dim=1) == y).sum()
        seen += len(y)
        if on_progress is not None and ((step + 1) % progress_every == 0 or step + 1 == steps):
            on_progress(Progress(epoch, step + 1, steps, seen, float(loss_sum) / seen))
    return _EpochResult(float(loss_sum), int(correct), seen, stopped=False)


def evaluate(model: nn.Module, scaling: InputScaling, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Test accuracy, in eval mode without gradients."""
    return accuracy(model, scaling, images, labels)


class TrainingRun:
    """A model, its optimizer and its history: trained epoch by epoch, stoppable, continuable.

    Two loops can never train one run at once: a second call raises RunBusyError.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        classes: tuple[str, ...] = CLASSES,
        scaling: InputScaling | None = None,
    ) -> None:
        self.config = config.validate()
        self.classes = tuple(classes)
        self.scaling = scaling if scaling is not None else DEFAULT_SCALING[config.model]
        # Every random choice of the run comes from its own generators, never torch's global one,
        # so the same seed gives the same run whatever else trains in the process at the same time.
        self.model = build_model(config.model, torch.Generator().manual_seed(config.seed))
        self.optimizer = make_optimizer(self.model, config)
        self.generator = torch.Generator().manual_seed(config.seed)  # shuffling
        self.history: list[EpochStats] = []
        self.steps = 0
        self.status = "new"  # new | running | stopped | finished | diverged | failed
        self.message = ""
        self.paused_because: str | None = None  # set by pause(): why training was paused
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return self.config.model

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def test_acc(self) -> float | None:
        return self.history[-1].test_acc if self.history else None

    def classifier(self) -> Classifier:
        return Classifier(self.model, self.scaling, self.classes, self.config.model)

    @property
    def can_continue(self) -> bool:
        """Stopped, paused or failed before its configured epochs: Continue trains it on."""
        return self.status in ("stopped", "failed") and self.epochs_done < self.config.epochs

    # --- state changes made from outside the training loop ------------------------------------
    def stop(self) -> None:
        """The user stopped it: what it learned (a part-epoch included) is kept."""
        if self.status in ("new", "running", "stopped"):
            self.status, self.message, self.paused_because = "stopped", "", None

    def pause(self, reason: str) -> None:
        """Training was ended for `reason` (the user left the page, say); Continue trains on."""
        if self.status in ("new", "running", "stopped"):
            self.status, self.message, self.paused_because = "stopped", "", reason

    def fail(self, reason: str) -> None:
        """Training broke off for a reason outside the run (its worker died): kept as it is."""
        self.status, self.message, self.paused_because = "failed", reason, None

    def summary(self, stretch: tuple[int, float] | None = None) -> tuple[str, str]:
        """(level, text): the run's state in a sentence, level one of success, info, error.

        stretch: (epochs, wall seconds) of the last Train/Continue press, told apart from the total
        training time when the run was continued.
        """
        acc = self.test_acc
        total = sum(e.seconds for e in self.history)
        took = f" in {total:.1f} s of training"
        if stretch is not None and 0 < stretch[0] < self.epochs_done:
            took += f" (the last {stretch[0]} in {stretch[1]:.1f} s)"
        if self.status == "diverged":
            kept = f" It keeps its {self.epochs_done} good epoch(s)." if self.history else ""
            return "error", self.message + kept
        if self.status == "failed":
            kept = f" It has {self.epochs_done} epoch(s) of training." if self.history else ""
            return "error", self.message + kept
        if acc is None:
            return "info", "This run has no completed training yet."
        if self.status == "finished":
            return "success", f"Finished {self.epochs_done} epochs{took}. Test accuracy {acc:.1%}."
        partial = "" if self.history[-1].complete else " (the last one stopped part-way)"
        if self.paused_because:
            return "info", (
                f"Training was paused because {self.paused_because}, after {self.epochs_done} epoch(s){partial}"
                f"{took}. Everything learned so far is kept, including the epoch in progress: press "
                f"Continue to train on. Test accuracy {acc:.1%}."
            )
        return "info", (
            f"Stopped after {self.epochs_done} epoch(s){partial}{took}; everything learned so far is kept. "
            f"Test accuracy {acc:.1%}."
        )

    # --- moving a run between processes ---------------------------------------------------------
    def snapshot(self) -> dict:
        """Everything that makes this run (tensors and plain data), to rebuild it in another process."""
        from .checkpoint import checkpoint_dict

        return {**checkpoint_dict(self), "status": self.status, "message": self.message}

    @classmethod
    def from_snapshot(cls, snap: dict) -> TrainingRun:
        run = cls(
            TrainConfig.from_dict(snap["config"]),
            classes=tuple(snap["classes"]),
            scaling=InputScaling.from_dict(snap["scaling"]),
        )
        run.restore(snap)
        return run

    def restore(self, snap: dict) -> None:
        """Take the state of a snapshot of this same run (trained on elsewhere): weights, history, status."""
        if TrainConfig.from_dict(snap["config"]) != self.config:
            raise ValueError("A snapshot of another run cannot be restored into this one.")
        self.model.load_state_dict(snap["state_dict"])
        self.optimizer.load_state_dict(snap["optimizer"])
        self.generator.set_state(snap["generator"])
        self.steps = int(snap["steps"])
        self.history = [EpochStats(**e) for e in snap["history"]]
        self.status, self.message, self.paused_because = snap["status"], snap["message"], None

    def train_one_epoch(
        self,
        data: FashionMNIST,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        test: bool = True,
    ) -> EpochStats | None:
        """Train one epoch (or until should_stop) and append it to the history.

        test=False skips the test-set evaluation (test_acc None) unless the epoch is stopped
        part-way. Returns the new history entry, or None if the run diverged or was stopped
        before its first step (status and message say which).
        """
        if not self._lock.acquire(blocking=False):
            raise RunBusyError("This model is already being trained.")
        try:
            return self._train_one_epoch(data, on_progress, should_stop, test)
        finally:
            self._lock.release()

    def _train_one_epoch(self, data, on_progress, should_stop, test: bool) -> EpochStats | None:
        epoch = self.epochs_done + 1
        # Snapshot for rollback if this epoch diverges (at most a few MB for the CNN).
        saved_model = {k: v.clone() for k, v in self.model.state_dict().items()}
        saved_opt = _clone_state(self.optimizer.state_dict())
        saved_gen = self.generator.get_state()
        self.status = "running"
        lr = lr_at(self.config, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        start = time.perf_counter()
        try:
            result = train_epoch(
                self.model,
                self.optimizer,
                data.train_images,
                data.train_labels,
                scaling=self.scaling,
                batch_size=self.config.batch_size,
                generator=self.generator,
                on_progress=on_progress,
                should_stop=should_stop,
                epoch=epoch,
                first_step=self.steps,
                config=self.config,
            )
        except TrainingDiverged as e:
            self.model.load_state_dict(saved_model)
            self.optimizer.load_state_dict(saved_opt)
            self.generator.set_state(saved_gen)
            self.status, self.message = "diverged", str(e)
            return None
        self.paused_because = None
        self.steps += math.ceil(result.seen / self.config.batch_size)
        if result.seen == 0:
            self.status, self.message = "stopped", f"Stopped before epoch {epoch} began."
            return None
        test_acc = (
            evaluate(self.model, self.scaling, data.test_images, data.test_labels) if test or result.stopped else None
        )
        seconds = time.perf_counter() - start
        stats = EpochStats(
            epoch=epoch,
            train_loss=result.loss_sum / result.seen,
            train_acc=result.correct / result.seen,
            test_acc=test_acc,
            seconds=seconds,
            examples_per_sec=result.seen / seconds,
            examples=result.seen,
            complete=not result.stopped,
            lr=lr,
        )
        self.history.append(stats)
        if result.stopped:
            self.status = "stopped"
            self.message = (
                f"Stopped during epoch {epoch} after {result.seen:,} of {len(data.train_labels):,} "
                f"examples. Test accuracy {test_acc:.1%}."
            )
        else:
            self.status = "finished" if self.epochs_done >= self.config.epochs else "stopped"
            self.message = f"Epoch {epoch} done." + (f" Test accuracy {test_acc:.1%}." if test_acc is not None else "")
        return stats

    def fit(
        self,
        data: FashionMNIST,
        epochs: int | None = None,
        *,
        on_epoch: Callable[[EpochStats], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        test_every_epoch: bool = True,
    ) -> str:
        """Train `epochs` more epochs (default: up to config.epochs in all). Returns the status.

        test_every_epoch=False evaluates on the test set only after the last epoch (and after a
        stopped one): about a tenth less work for softmax, when nobody looks at the curve.
        """
        todo = self.config.epochs - self.epochs_done if epochs is None else epochs
        for i in range(max(0, todo)):
            test = test_every_epoch or i == todo - 1
            stats = self.train_one_epoch(data, on_progress=on_progress, should_stop=should_stop, test=test)
            if stats is not None and on_epoch is not None:
                on_epoch(stats)
            if stats is None or not stats.complete:
                return self.status
        self.status = "finished"
        if self.history:
            self.message = f"Finished {self.epochs_done} epochs. Test accuracy {self.history[-1].test_acc:.1%}."
        return self.status


def _clone_state(obj):
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: _clone_state(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone_state(v) for v in obj]
    return obj


__all__ = [
    "DEFAULT_CONFIGS",
    "DEFAULT_SCALING",
    "EXPLODING_LOSS",
    "OPTIMIZERS",
    "OPTIMIZER_TITLES",
    "EpochStats",
    "Progress",
    "RunBusyError",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingRun",
    "SCHEDULES",
    "default_config",
    "evaluate",
    "loss_fn",
    "lr_at",
    "make_optimizer",
    "train_epoch",
]
