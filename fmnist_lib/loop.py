"""One epoch on the in-memory tensors, with a divergence guard.

The loop shuffles by permutation and slices batches straight out of the uint8
tensors (no DataLoader, no per-sample PIL transforms): a softmax epoch over
60,000 images takes a few hundredths of a second on two cores.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .augment import random_augment
from .config import TrainConfig, lr_at, suggested_lr
from .models import SoftmaxRegression
from .optim import Optimizer
from .scaling import InputScaling

# A loss above this means the model gives the right class a probability below e^-50:
# far worse than guessing (ln 10 = 2.3). Only a diverging run gets there.
EXPLODING_LOSS = 50.0


def set_threads(n: int | None) -> int:
    """Use n CPU threads for torch's maths (None: leave it); returns the number in use.

    The app uses 1: with a browser (or another session) busy on the same few cores, torch's
    second thread spins waiting for work and slows small softmax steps down about twofold
    (bench/bench_ui.py's Train step; the figures are in README, "Measured").
    """
    if n is not None:
        torch.set_num_threads(max(1, int(n)))
    return torch.get_num_threads()


@dataclass
class Progress:
    """Passed to the progress callback every few steps."""

    epoch: int
    step: int  # steps done in this epoch
    steps_per_epoch: int
    examples: int  # examples done in this epoch
    loss: float  # mean loss over this epoch so far


@dataclass(frozen=True)
class DivergedEpoch:
    """The epoch the guard stopped, step by step, so a learner can see the loss blow up."""

    epoch: int  # 1-based
    first_step: int  # the run's steps before this epoch: step i of the epoch is first_step + i + 1
    losses: tuple[float, ...]  # each batch's mean loss, the last the one that tripped the guard (may be NaN/inf)
    threshold: float = EXPLODING_LOSS


class TrainingDiverged(Exception):
    """The loss became NaN, infinite or exploded; the message explains it to a learner."""

    def __init__(self, message: str, failed: DivergedEpoch | None = None) -> None:
        super().__init__(message)
        self.failed = failed


@dataclass
class _EpochResult:
    loss_sum: float
    correct: int
    seen: int
    stopped: bool


def _divergence_message(loss: float, step: int, epoch: int, lr: float, config: TrainConfig) -> str:
    """Why the guard stopped the run, quoting `lr`, the rate of the step that blew up (the schedule's, not
    necessarily config.lr), and a learning rate (the slider's) that trains this model well (suggested_lr)."""
    what = "NaN (not a number)" if math.isnan(loss) else "infinite" if math.isinf(loss) else f"{loss:.3g}"
    return (
        f"Training stopped: the loss became {what} at step {step} (epoch {epoch}). "
        f"A learning rate of {lr:g} is too large for this model: each step overshoots "
        "the minimum, so the weights grow instead of settling and the loss blows up. "
        f"Try a smaller learning rate, such as {suggested_lr(config):g}. "
        "The model was rolled back to where it was before this epoch."
    )


def train_epoch(
    model: nn.Module,
    optimizer: Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: TrainConfig,
    *,
    scaling: InputScaling,
    generator: torch.Generator,
    epoch: int = 1,
    first_step: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_every: int = 25,
) -> _EpochResult:
    """One pass over (images [N,28,28] uint8, labels [N] int64) in a random order, in batches of
    config.batch_size, each step at the schedule's rate (config.lr_at, set here and nowhere else).

    Stops between steps when should_stop() is true. Raises TrainingDiverged when
    the loss is not finite or explodes (the caller restores the weights).
    config.augment: each batch is randomly mirrored (and shifted and rescaled; augment.py), with
    random numbers from `generator` (so the run's seed decides them too).
    """
    batch_size = config.batch_size
    model.train()
    n = len(labels)
    perm = torch.randperm(n, generator=generator)
    flat = images.view(n, -1)  # rows of 784 bytes: index_select copies whole rows
    steps = math.ceil(n / batch_size)
    closed_form = isinstance(model, SoftmaxRegression)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    seen = 0
    step_losses: list[float] = []  # shown to the learner if the guard stops the epoch
    for step in range(steps):
        if should_stop is not None and should_stop():
            return _EpochResult(float(loss_sum), int(correct), seen, stopped=True)
        idx = perm[step * batch_size : (step + 1) * batch_size]
        rows = flat.index_select(0, idx)  # [B, 784] uint8
        y = labels.index_select(0, idx)  # [B]
        if config.augment != "off":
            shift_and_scale = config.augment == "mirror+shift"
            rows = random_augment(rows.view(-1, 28, 28), generator, shift_and_scale).view(-1, 28 * 28)
        lr = lr_at(config, epoch, step, steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if closed_form:
            x = scaling.apply(rows)  # [B, 784] float: softmax regression works on flat rows
            losses, logits = model.cross_entropy_gradients(x, y)
            batch_loss = losses.sum()
        else:
            x = scaling.apply(rows.view(-1, 28, 28))  # [B, 1, 28, 28] float
            logits = model(x)
            loss = F.cross_entropy(logits, y)  # mean cross-entropy on logits (log-softmax + NLL, stably)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            batch_loss = loss.detach() * len(y)
        loss_value = float(batch_loss) / len(y)
        step_losses.append(loss_value)
        if not math.isfinite(loss_value) or loss_value > EXPLODING_LOSS:
            raise TrainingDiverged(
                _divergence_message(loss_value, first_step + step + 1, epoch, lr, config),
                DivergedEpoch(epoch, first_step, tuple(step_losses)),
            )
        optimizer.step()
        loss_sum += batch_loss
        correct += (logits.detach().argmax(dim=1) == y).sum()
        seen += len(y)
        if on_progress is not None and ((step + 1) % progress_every == 0 or step + 1 == steps):
            on_progress(Progress(epoch, step + 1, steps, seen, float(loss_sum) / seen))
    return _EpochResult(float(loss_sum), int(correct), seen, stopped=False)
