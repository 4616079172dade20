"""Predictions: a model together with its input scaling and class names.

Every prediction in the project goes through `Classifier`, which takes uint8
28x28 images and applies the scaling stored with the model (scaling.py), so
training and inference cannot disagree on how pixels are scaled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .scaling import InputScaling


def as_uint8_images(images) -> torch.Tensor:
    """Accept a [28,28] or [N,28,28] (or [N,1,28,28]) uint8 tensor or numpy array; return [N,28,28] uint8."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"Expected a uint8 tensor or array of 28x28 images, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise TypeError(f"Expected uint8 pixels (0-255), got {images.dtype}; the classifier scales them itself.")
    if images.dim() == 2:
        images = images.unsqueeze(0)
    if images.dim() == 4 and images.shape[1] == 1:
        images = images.squeeze(1)
    if images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        raise ValueError(f"Expected 28x28 images, got shape {tuple(images.shape)}")
    return images


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    scaling: InputScaling,
    images: torch.Tensor,
    batch_size: int = 256,
    between: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Logits [N, 10] for uint8 images [N, 28, 28], in eval mode, in batches to bound memory.

    Batches of 256: the CNN's activations for 256 images stay in the CPU's caches. Its pass over the 10,000
    test images took 0.57 s at 256 against 1.7 s at 2,000 (one thread, EPYC, 2026-12-07; softmax's is
    ~0.01 s either way), and a Stop waits for one batch (15 ms, not 0.35 s).

    between(): called after each batch (a training worker tells the page of a Stop there)."""
    was_training = model.training
    model.eval()
    try:
        out = []
        for i in range(0, len(images), batch_size):
            out.append(model(scaling.apply(images[i : i + batch_size])))
            if between is not None:
                between()
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, 10)


def softmax_with_temperature(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """softmax(logits / T): T < 1 sharpens the distribution, T > 1 flattens it; the order never changes."""
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    return torch.softmax(logits / temperature, dim=-1)


@dataclass
class Prediction:
    """Probabilities [N, 10] and the Top-k [N, k] of a batch."""

    logits: torch.Tensor
    probs: torch.Tensor
    top_indices: torch.Tensor
    top_probs: torch.Tensor
    classes: tuple[str, ...]

    def top(self, i: int = 0) -> list[dict]:
        """The Top-k of image i as [{"label", "index", "prob"}, ...], best first."""
        return [
            {"label": self.classes[int(c)], "index": int(c), "prob": float(p)}
            for c, p in zip(self.top_indices[i], self.top_probs[i], strict=True)
        ]


def _prediction(logits: torch.Tensor, probs: torch.Tensor, k: int, classes) -> Prediction:
    k = max(1, min(int(k), probs.shape[1]))
    top_probs, top_indices = probs.topk(k, dim=1)
    return Prediction(logits, probs, top_indices, top_probs, tuple(classes))


def mirror_images(images: torch.Tensor) -> torch.Tensor:
    """Left-right mirror images: uint8 [N, 28, 28] -> uint8 [N, 28, 28]."""
    return images.flip(-1)


# How far (px) a garment's centre of mass must lie off its box's centre for it to count as facing
# one way; nearer the centre it is taken as symmetric (a top, trousers, a bag) and both views are
# averaged. Chosen on Fashion-MNIST's test images as they are and mirrored, and on the tuning set
# (bench/tuning_set.py), never on the outside set (bench/results/outside_set.md).
FACING_MARGIN = 0.5


def heavier_side(images: torch.Tensor) -> torch.Tensor:
    """How far each garment's centre of mass lies right of its box's centre, in pixels: uint8 [N, 28, 28] -> [N].

    Fashion-MNIST's shoes all point left, so their heavier heel and shaft sit right of centre
    (in its training images, the centre of mass of sandals, sneakers and ankle boots lies on average
    2.2-3.2 px right of the box's centre; of tops, trousers, dresses, coats and bags within 0.2 px).
    """
    x = images.to(torch.float32)  # [N, 28, 28]
    cols = x.sum(dim=1)  # [N, 28]: each column's mass
    pos = torch.arange(x.shape[-1], dtype=torch.float32)
    mass = cols.sum(dim=1)
    centre_of_mass = (cols * pos).sum(dim=1) / mass.clamp(min=1e-6)
    filled = cols > 0
    left = filled.to(torch.float32).argmax(dim=1).to(torch.float32)
    right = (x.shape[-1] - 1) - filled.flip(1).to(torch.float32).argmax(dim=1).to(torch.float32)
    return torch.where(mass > 0, centre_of_mass - (left + right) / 2, 0.0)


def own_view_weight(images: torch.Tensor, margin: float = FACING_MARGIN) -> torch.Tensor:
    """The weight of each image's own view against its mirror image's: float [N], 1, 0 or 0.5.

    1: heavier on the right, facing like Fashion-MNIST's shoes, so the image is read as it is;
    0: heavier on the left, so the model reads its mirror image, which faces Fashion-MNIST's way;
    0.5: balanced (a symmetric garment), so both views are averaged.
    """
    return facing_weight(heavier_side(images), margin)


def facing_weight(offset: torch.Tensor, margin: float = FACING_MARGIN) -> torch.Tensor:
    """own_view_weight from heavier_side's offsets [N] (px): 1 right of +margin, 0 left of -margin, else 0.5."""
    return torch.where(offset > margin, 1.0, torch.where(offset < -margin, 0.0, 0.5))


def mirror_combine(probs: torch.Tensor, mirrored_probs: torch.Tensor, own_weight: torch.Tensor) -> torch.Tensor:
    """Mirror-aware probabilities [N, 10]: own_weight * probs + (1 - own_weight) * mirrored_probs.

    Every Fashion-MNIST shoe points left, so a model trained on them alone (the tutorial's
    softmax) can miss a right-pointing one that its mirror image shows plainly, and is thrown by
    the mirror image of a left-pointing one. A garment is the same garment in the mirror, so the
    lab turns it to face Fashion-MNIST's way (own_view_weight) for such a model. A model trained on
    mirror images too has no way it expects a garment to face, so both views are averaged for it
    (MIRROR_TRAINED_WEIGHT). Rules were tried on Fashion-MNIST's test images and their mirror
    images together and on the tuning set: facing did best for the tutorial's softmax, which plain
    averaging loses 10 points on the images as they are; for the models trained on mirror images,
    averaging did as well as facing or better, and within a tuning picture of the best rule
    (bench/results/outside_set.md).
    """
    w = own_weight.to(probs.dtype)[:, None]  # [N, 1]
    return w * probs + (1.0 - w) * mirrored_probs


# A model trained on mirror images (TrainConfig.augment "mirror" or "mirror+shift") reads both views,
# averaged: on the tuning set this beat facing Fashion-MNIST's way by 2 pictures for the CNN default,
# and on photo renders of seeds 1 and 2 by 0-0.6 points; on Fashion-MNIST both ways they tie.
MIRROR_TRAINED_WEIGHT = 0.5


@dataclass
class MirroredPrediction:
    """The mirror step, shown: the image's own prediction, its mirror image's, and their combination."""

    own: Prediction
    mirrored: Prediction
    combined: Prediction
    mirrored_images: torch.Tensor  # uint8 [N, 28, 28]
    own_weight: torch.Tensor  # [N]: 1 the image as it is, 0 its mirror image, 0.5 both averaged
    offset: torch.Tensor  # [N]: how far (px) its centre of mass lies right of its box's centre
    saw_mirrors: bool = False  # the model was trained on mirror images, so both views are averaged


@dataclass
class Classifier:
    """A trained model with the scaling it was trained with and the class names."""

    model: nn.Module
    scaling: InputScaling
    classes: tuple[str, ...]
    kind: str
    saw_mirrors: bool = False  # trained on mirror images too (augmentation): the mirror step averages both views

    def weights_from_offsets(self, offset: torch.Tensor) -> torch.Tensor:
        """The mirror step's weight of each image's own view [N] from heavier_side's offsets [N]:
        MIRROR_TRAINED_WEIGHT for a model trained on mirror images, else facing_weight (the view facing
        Fashion-MNIST's way). The one place the step's rule is decided."""
        if self.saw_mirrors:
            return torch.full_like(offset, MIRROR_TRAINED_WEIGHT)
        return facing_weight(offset)

    def view_weights(self, images: torch.Tensor) -> torch.Tensor:
        """weights_from_offsets for uint8 images [N, 28, 28]."""
        return self.weights_from_offsets(heavier_side(images))

    def view_read(self, pixels: np.ndarray) -> tuple[np.ndarray, bool]:
        """The one view the mirror step reads of a uint8 [28, 28] image: (its mirror image, True) when the
        step reads only that (view_weights 0), else (the image, False), including when it averages both
        views. For pages that explain a single input, such as Inside softmax."""
        return self.views_read(pixels)[0]

    def views_read(self, pixels: np.ndarray) -> list[tuple[np.ndarray, bool]]:
        """Every view the mirror step reads of a uint8 [28, 28] image, as (pixels, whether it is the mirror
        image): the image alone, its mirror image alone, or both (their probabilities averaged). For pages
        that show what each view read, such as Upload's evidence maps."""
        weight = float(self.view_weights(torch.from_numpy(np.ascontiguousarray(pixels))[None])[0])
        own, mirrored = (pixels, False), (np.ascontiguousarray(pixels[:, ::-1]), True)
        if weight == 1.0:
            return [own]
        return [mirrored] if weight == 0.0 else [own, mirrored]

    def logits(self, images) -> torch.Tensor:
        return predict_logits(self.model, self.scaling, as_uint8_images(images))

    def predict(self, images, k: int = 3, temperature: float = 1.0, mirror: bool = False) -> Prediction:
        """Probabilities and Top-k; mirror=True combines each image's two views by view_weights (mirror_combine)."""
        images = as_uint8_images(images)
        logits = self.logits(images)
        probs = softmax_with_temperature(logits, temperature)
        if mirror:
            mirrored = softmax_with_temperature(self.logits(mirror_images(images)), temperature)
            probs = mirror_combine(probs, mirrored, self.view_weights(images))
            logits = probs.log()  # so that softmax(logits) is still probs
        return _prediction(logits, probs, k, self.classes)

    def predict_both_ways(self, images, k: int = 3) -> MirroredPrediction:
        """The image's own Top-k, its mirror image's, and their combination: what the mirror step changed."""
        images = as_uint8_images(images)
        flipped = mirror_images(images)
        own = self.predict(images, k)
        mirrored = self.predict(flipped, k)
        offset = heavier_side(images)
        weight = self.weights_from_offsets(offset)
        probs = mirror_combine(own.probs, mirrored.probs, weight)
        combined = _prediction(probs.log(), probs, k, self.classes)
        return MirroredPrediction(own, mirrored, combined, flipped, weight, offset, self.saw_mirrors)

    def accuracy(self, images, labels: torch.Tensor) -> float:
        return accuracy(self.model, self.scaling, as_uint8_images(images), labels)


def accuracy(
    model: nn.Module,
    scaling: InputScaling,
    images: torch.Tensor,
    labels: torch.Tensor,
    between: Callable[[], None] | None = None,
) -> float:
    """Fraction of images whose argmax logit is the label (between: see predict_logits)."""
    if len(labels) == 0:
        return float("nan")
    pred = predict_logits(model, scaling, images, between=between).argmax(dim=1)
    return float((pred == labels).float().mean())


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """[true, predicted] counts, [num_classes, num_classes] int64."""
    idx = labels.to(torch.int64) * num_classes + predicted.to(torch.int64)
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes)
