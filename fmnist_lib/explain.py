"""One prediction, step by step: pixels -> logits -> probabilities -> loss -> gradient -> one SGD step.

`explain` is the one function the "Inside softmax" page and `python -m fmnist_lib explain`
both call, so the numbers they show cannot disagree. Everything is returned as small numpy
arrays (float32, as the model computes them), so the UI needs no torch.

The model returns logits; training never calls softmax (the loss is `cross_entropy` on logits,
which is log-softmax + NLL, computed with the log-sum-exp trick). Softmax is applied only to
show probabilities. `stability_demo` shows why the trick matters: the naive float32
exp(z) / sum(exp(z)) overflows once a logit passes ln(float32 max) ~ 88.72.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .inference import Classifier, Prediction, as_uint8_images, predict_logits
from .models import SoftmaxRegression
from .scaling import STANDARDIZED, InputScaling

# exp(z) is the largest float32 (3.4e38) at z = ln(3.4e38); above it, float32 exp gives inf.
FLOAT32_EXP_LIMIT = math.log(torch.finfo(torch.float32).max)  # 88.72
# Below this, float32 exp(z) is 0 even as a subnormal: a sum of such terms is 0, and 0/0 is NaN.
FLOAT32_EXP_FLOOR = math.log(2.0**-149)  # -103.28, the smallest float32 subnormal

LOSS_WAYS = (
    ("F.cross_entropy(z, y)", "cross_entropy"),
    ("F.nll_loss(F.log_softmax(z), y)", "nll_log_softmax"),
    ("-log(softmax(z)[y])", "neg_log_softmax"),
)


@dataclass(frozen=True)
class Explanation:
    """The steps of one prediction. Arrays are float32; the label-dependent ones are None without a label."""

    pixels: np.ndarray  # [28, 28] uint8, the image
    x: np.ndarray  # [784], the image as the model sees it (after its own input scaling)
    logits: np.ndarray  # [10], z = the model's output
    probs: np.ndarray  # [10], softmax(z)
    pred: int  # argmax z
    label: int | None  # the true (or chosen) class y
    losses: dict[str, float] | None  # L = -log p_y computed three ways (LOSS_WAYS' keys)
    grad_logits: np.ndarray | None  # [10], dL/dz = p - onehot(y)
    evidence: np.ndarray | None  # [10, 28, 28], w_c * x (softmax regression only)
    bias: np.ndarray | None  # [10], b_c (softmax regression only)
    grad_weights: np.ndarray | None  # [10, 28, 28], dL/dW_c = (p_c - y_c) x (softmax regression, with a label)

    @property
    def loss(self) -> float | None:
        return None if self.losses is None else self.losses["cross_entropy"]

    def to_json(self) -> dict:
        """The CLI's object: {"label", "pred", "logits", "probs", "loss", "grad_logits"}."""
        return {
            "label": self.label,
            "pred": self.pred,
            "logits": [float(v) for v in self.logits],
            "probs": [float(v) for v in self.probs],
            "loss": self.loss,
            "grad_logits": None if self.grad_logits is None else [float(v) for v in self.grad_logits],
        }


def three_losses(logits: torch.Tensor, label: int) -> dict[str, float]:
    """-log p_y three ways, as torch computes them, in float64 so that they agree to the digits shown
    (in float32 they differ in the 7th digit).

    The third takes softmax first and the log after: where p_y underflows to 0 it gives inf,
    which is why training uses the first (log-softmax inside, never softmax itself).
    """
    z = logits.reshape(1, -1).to(torch.float64)  # [1, 10]
    y = torch.tensor([label])
    return {
        "cross_entropy": float(F.cross_entropy(z, y)),
        "nll_log_softmax": float(F.nll_loss(F.log_softmax(z, dim=1), y)),
        "neg_log_softmax": float(-torch.log(torch.softmax(z, dim=1)[0, label])),
    }


def explain(classifier: Classifier, pixels, label: int | None = None) -> Explanation:
    """Every step of the classifier's prediction for one uint8 28x28 image (label: its class, if known)."""
    images = as_uint8_images(pixels)[:1]  # [1, 28, 28]
    if label is not None and not 0 <= int(label) < len(classifier.classes):
        raise ValueError(f"label must be a class index from 0 to {len(classifier.classes) - 1}, got {label}")
    x = classifier.scaling.apply(images).reshape(-1)  # [784]
    z = predict_logits(classifier.model, classifier.scaling, images)[0]  # [10], the same path as predict()
    p = torch.softmax(z, dim=0)
    losses = grad = grad_w = evidence = bias = None
    if label is not None:
        label = int(label)
        losses = three_losses(z, label)
        grad = p.clone()
        grad[label] -= 1.0  # p - onehot(y)
    if isinstance(classifier.model, SoftmaxRegression):
        with torch.no_grad():
            w = classifier.model.linear.weight.detach()  # [10, 784]
            evidence = (w * x).view(-1, 28, 28).numpy().copy()
            bias = classifier.model.linear.bias.detach().numpy().copy()
            if grad is not None:
                grad_w = torch.outer(grad, x).view(-1, 28, 28).numpy().copy()
    return Explanation(
        pixels=images[0].numpy().copy(),
        x=x.numpy().copy(),
        logits=z.numpy().copy(),
        probs=p.numpy().copy(),
        pred=int(z.argmax()),
        label=label,
        losses=losses,
        grad_logits=None if grad is None else grad.numpy().copy(),
        evidence=evidence,
        bias=bias,
        grad_weights=grad_w,
    )


@dataclass(frozen=True)
class StabilityDemo:
    """softmax(z + shift) computed naively and with the log-sum-exp trick, in float32."""

    shift: float
    logits: np.ndarray  # [10] float32, z + shift
    exp_naive: np.ndarray  # [10] float32, exp(z + shift): inf above ~88.72, 0 below ~-103
    naive: np.ndarray  # [10] exp / sum(exp): NaN once a term is inf or all are 0
    exp_stable: np.ndarray  # [10] exp(z - max z): at most 1, never overflows
    stable: np.ndarray  # [10] the log-sum-exp form: the same probabilities at every shift
    log_sum_exp: float  # m + log sum exp(z - m)

    @property
    def naive_broke(self) -> bool:
        return not bool(np.isfinite(self.naive).all())


def stability_demo(logits, shift: float) -> StabilityDemo:
    """Add `shift` to every logit (which changes no probability) and softmax it both ways."""
    z = torch.as_tensor(np.asarray(logits, dtype=np.float32)) + np.float32(shift)  # [10] float32
    e = torch.exp(z)
    naive = e / e.sum()
    m = z.max()
    e_stable = torch.exp(z - m)
    stable = e_stable / e_stable.sum()
    lse = float(m + torch.log(e_stable.sum()))
    return StabilityDemo(float(shift), z.numpy(), e.numpy(), naive.numpy(), e_stable.numpy(), stable.numpy(), lse)


@dataclass(frozen=True)
class StepResult:
    """One SGD step on one image, applied to a copy of the model."""

    lr: float
    before: Explanation
    after: Explanation


def sgd_step(classifier: Classifier, pixels, label: int, lr: float) -> StepResult:
    """W <- W - lr * dL/dW for L = cross-entropy of this one image, on a deep copy of the model.

    The classifier's own model is never changed. The step is taken in eval mode: for the CNN
    that means BatchNorm uses its running statistics (one image has no batch statistics) and
    they are not updated.
    """
    if not lr > 0:
        raise ValueError("the learning rate must be positive")
    before = explain(classifier, pixels, label)
    model = copy.deepcopy(classifier.model)
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    x = classifier.scaling.apply(as_uint8_images(pixels)[:1])  # [1, 1, 28, 28]
    loss = F.cross_entropy(model(x), torch.tensor([int(label)]))
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p.sub_(lr * g)
    after = explain(dataclasses.replace(classifier, model=model), pixels, label)
    return StepResult(float(lr), before, after)


def predict_with_scaling(
    classifier: Classifier, pixels, scaling: InputScaling = STANDARDIZED, k: int = 3, mirror: bool = False
) -> Prediction:
    """The classifier's model fed pixels scaled some other way than it was trained with.

    Only for showing the tutorial's bug: its upload code normalised with Fashion-MNIST's mean and
    std ((x - 0.2860) / 0.3530) while its model was trained on [0, 1] pixels. Everything else in
    the project predicts through `Classifier.predict`, with the model's own scaling. mirror: through
    the mirror step, as `Classifier.predict(mirror=True)`.
    """
    wrong = dataclasses.replace(classifier, scaling=scaling)
    return wrong.predict(pixels, k=k, mirror=mirror)


__all__ = [
    "FLOAT32_EXP_FLOOR",
    "FLOAT32_EXP_LIMIT",
    "LOSS_WAYS",
    "Explanation",
    "StabilityDemo",
    "StepResult",
    "explain",
    "predict_with_scaling",
    "sgd_step",
    "stability_demo",
    "three_losses",
]
