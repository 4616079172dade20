"""A resumable training run: a model, its optimizer and its history, trained epoch by epoch."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch

from .config import DEFAULT_SCALING, TrainConfig, lr_at
from .data import CLASSES, FashionMNIST
from .inference import Classifier, accuracy
from .loop import DivergedEpoch, Progress, TrainingDiverged, train_epoch
from .models import build_model
from .optim import make_optimizer
from .scaling import InputScaling
from .words import how_far, plural


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


class RunBusyError(RuntimeError):
    """Another loop is training this run right now."""


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
        self.config = config
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
        self.diverged: DivergedEpoch | None = None  # the epoch the guard stopped, until an epoch completes
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
        saw_mirrors = self.config.augment != "off"  # "mirror" and "mirror+shift" both mirror
        return Classifier(self.model, self.scaling, self.classes, self.config.model, saw_mirrors)

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
            kept = f" It keeps its {plural(self.epochs_done, 'good epoch')}." if self.history else ""
            return "error", self.message + kept
        if self.status == "failed":
            kept = f" It has {plural(self.epochs_done, 'epoch')} of training." if self.history else ""
            return "error", self.message + kept
        if acc is None:
            return "info", "This run has no completed training yet."
        if self.status == "finished":
            return "success", f"Finished {plural(self.epochs_done, 'epoch')}{took}. Test accuracy {acc:.1%}."
        far = how_far([e.complete for e in self.history])
        if self.paused_because:
            return "info", (
                f"Training was paused because {self.paused_because}, {far}{took}. Everything learned so far is "
                f"kept, including the epoch in progress: press Continue to train on. Test accuracy {acc:.1%}."
            )
        return "info", f"Stopped {far}{took}; everything learned so far is kept. Test accuracy {acc:.1%}."

    # --- moving a run between processes ---------------------------------------------------------
    def state(self) -> dict:
        """This run as plain data and tensors: settings, classes, scaling, weights, optimizer, generator,
        steps and history. A checkpoint (checkpoint.py) is this plus its file format."""
        return {
            "config": self.config.to_dict(),
            "classes": list(self.classes),
            "scaling": self.scaling.to_dict(),
            "state_dict": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "steps": self.steps,
            "history": [e.to_dict() for e in self.history],
        }

    def snapshot(self) -> dict:
        """Everything that makes this run (tensors and plain data), to rebuild it in another process."""
        snap = self.state()
        # Its own copy of the optimizer's buffers, so that training on leaves the snapshot as it was.
        snap["optimizer"] = _clone_state(snap["optimizer"])
        return {
            **snap,
            "status": self.status,
            "message": self.message,
            "paused_because": self.paused_because,
            "diverged": self.diverged,  # the failed epoch's losses, drawn by the Train page
        }

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
        self.status, self.message = snap["status"], snap["message"]
        self.paused_because = snap.get("paused_because")
        self.diverged = snap.get("diverged")

    def train_one_epoch(
        self,
        data: FashionMNIST,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        test: bool = True,
        measure_stopped: bool = True,
    ) -> EpochStats | None:
        """Train one epoch (or until should_stop) and append it to the history.

        test=False skips the test-set evaluation (test_acc None) unless the epoch is stopped
        part-way; measure_stopped=False skips it for a stopped part-epoch too (a worker reports the
        stop first, then measures it with measure_last_epoch: the CNN's pass takes seconds). Returns the new history entry, or None if the run diverged or was stopped
        before its first step (status and message say which).
        """
        if not self._lock.acquire(blocking=False):
            raise RunBusyError("This model is already being trained.")
        try:
            return self._train_one_epoch(data, on_progress, should_stop, test, measure_stopped)
        finally:
            self._lock.release()

    def _train_one_epoch(self, data, on_progress, should_stop, test: bool, measure_stopped: bool) -> EpochStats | None:
        epoch = self.epochs_done + 1
        # Snapshot for rollback if this epoch diverges (at most a few MB for the CNN).
        saved_model = {k: v.clone() for k, v in self.model.state_dict().items()}
        saved_opt = _clone_state(self.optimizer.state_dict())
        saved_gen = self.generator.get_state()
        # A pause() that arrives while this epoch trains (from another script run) must outlive it.
        self.status, self.paused_because = "running", None
        start = time.perf_counter()
        try:
            result = train_epoch(
                self.model,
                self.optimizer,
                data.train_images,
                data.train_labels,
                self.config,
                scaling=self.scaling,
                generator=self.generator,
                epoch=epoch,
                first_step=self.steps,
                on_progress=on_progress,
                should_stop=should_stop,
            )
        except TrainingDiverged as e:
            self.model.load_state_dict(saved_model)
            self.optimizer.load_state_dict(saved_opt)
            self.generator.set_state(saved_gen)
            self.status, self.message = "diverged", str(e)
            self.diverged = e.failed
            return None
        self.steps += math.ceil(result.seen / self.config.batch_size)
        if result.seen == 0:
            self.status, self.message = "stopped", f"Stopped before epoch {epoch} began."
            return None
        test_acc = (
            accuracy(self.model, self.scaling, data.test_images, data.test_labels)
            if (test and not result.stopped) or (result.stopped and measure_stopped)
            else None
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
            lr=lr_at(self.config, epoch),  # the epoch's first step's
        )
        self.history.append(stats)
        self.diverged = None
        if result.stopped:
            self.status = "stopped"
            self.message = _stopped_message(stats, len(data.train_labels))
        else:
            self.status = "finished" if self.epochs_done >= self.config.epochs else "stopped"
            self.message = _done_message(epoch, test_acc)
        return stats

    def measure_last_epoch(self, data: FashionMNIST, *, between: Callable[[], None] | None = None) -> None:
        """Measure the test accuracy of the last epoch if it has none: a worker trains each epoch with
        test=False and measures it here, telling the page of a Stop between test batches (`between`,
        see inference.predict_logits). The pass's time is added to the epoch's, as train_one_epoch does."""
        if not self.history or self.history[-1].test_acc is not None:
            return
        start = time.perf_counter()
        test_acc = accuracy(self.model, self.scaling, data.test_images, data.test_labels, between=between)
        seconds = self.history[-1].seconds + time.perf_counter() - start
        last = replace(
            self.history[-1], test_acc=test_acc, seconds=seconds, examples_per_sec=self.history[-1].examples / seconds
        )
        self.history[-1] = last
        if not last.complete and self.status == "stopped":
            self.message = _stopped_message(last, len(data.train_labels))
        elif last.complete and self.message == _done_message(last.epoch, None):
            self.message = _done_message(last.epoch, test_acc)

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
        if self.epochs_done < self.config.epochs:
            return self.status  # the epochs asked for, not yet the run's: stopped, Continue trains on
        self.status = "finished"
        if self.history:
            self.message = (
                f"Finished {plural(self.epochs_done, 'epoch')}. Test accuracy {self.history[-1].test_acc:.1%}."
            )
        return self.status


def _done_message(epoch: int, test_acc: float | None) -> str:
    """A whole epoch's message: "Epoch 3 done. Test accuracy 84.1%." (without the accuracy until it is measured)."""
    return f"Epoch {epoch} done." + (f" Test accuracy {test_acc:.1%}." if test_acc is not None else "")


def _stopped_message(stats: EpochStats, train_size: int) -> str:
    measured = f" Test accuracy {stats.test_acc:.1%}." if stats.test_acc is not None else ""
    return f"Stopped during epoch {stats.epoch} after {stats.examples:,} of {train_size:,} examples.{measured}"


def _clone_state(obj):
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: _clone_state(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone_state(v) for v in obj]
    return obj
