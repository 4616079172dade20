"""The tutorial's upload bug, measured: its normalisation (x - 0.2860) / 0.3530 fed to a model trained
on [0, 1] pixels, beside the model's own scaling.

`one_image` says what it did to one image's answer (the two answers and how sure each sounds);
`on_test_set` how it does in general (accuracy and agreement on the test images). Facts only: the
Upload page words them (lab_ui/upload_page/tutorial_view.py), so a confident or even matching answer for one
photo is told apart from a pipeline that is right.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .explain import predict_with_scaling
from .inference import Classifier, as_uint8_images
from .scaling import STANDARDIZED

CONFIDENT = 0.9  # a probability a learner reads as "sure"; the buggy scaling often reaches it


@dataclass(frozen=True)
class OneImage:
    """One 28x28's Top-k with the tutorial's normalisation and with the model's own scaling."""

    as_written: tuple[dict, ...]  # Top-k as the tutorial's code gets it: {"label", "index", "prob"}, best first
    own: tuple[dict, ...]  # Top-k with the scaling the model was trained with
    same_scaling: bool  # the model was trained on standardised pixels: the tutorial's normalisation is its own

    @property
    def agree(self) -> bool:
        """Both give the same class (for a photo, the closest thing to "right" the page can know)."""
        return self.as_written[0]["index"] == self.own[0]["index"]

    @property
    def confident(self) -> bool:
        """The tutorial's answer sounds sure (at least CONFIDENT)."""
        return self.as_written[0]["prob"] >= CONFIDENT


def one_image(clf: Classifier, pixels, *, mirror: bool = False, k: int = 3) -> OneImage:
    """Both answers for one uint8 28x28 image; mirror: both read through the mirror step (the same views,
    since which way a garment faces does not depend on the scaling)."""
    as_written = predict_with_scaling(clf, pixels, STANDARDIZED, k=k, mirror=mirror).top(0)
    own = clf.predict(pixels, k=k, mirror=mirror).top(0)
    return OneImage(tuple(as_written), tuple(own), clf.scaling == STANDARDIZED)


@dataclass(frozen=True)
class OnTestSet:
    """The tutorial's normalisation against the model's own scaling on n labelled images."""

    n: int
    as_written_accuracy: float
    own_accuracy: float
    agreement: float  # share of the images both give the same class
    confident_wrong: float  # share the tutorial's scaling gets wrong at CONFIDENT or more


def on_test_set(clf: Classifier, images, labels: torch.Tensor) -> OnTestSet:
    """Both scalings on labelled uint8 images [N, 28, 28] (the test set: 10,000 forward passes each)."""
    images = as_uint8_images(images)
    own = clf.logits(images).argmax(dim=1)  # [N]
    wrong = dataclasses.replace(clf, scaling=STANDARDIZED)
    probs = torch.softmax(wrong.logits(images), dim=1)  # [N, 10]
    sure, as_written = probs.max(dim=1)
    labels = labels.to(torch.int64)
    n = len(labels)

    def share(mask: torch.Tensor) -> float:
        return float(mask.float().mean()) if n else float("nan")

    return OnTestSet(
        n=n,
        as_written_accuracy=share(as_written == labels),
        own_accuracy=share(own == labels),
        agreement=share(as_written == own),
        confident_wrong=share((as_written != labels) & (sure >= CONFIDENT)),
    )


__all__ = ["CONFIDENT", "OnTestSet", "OneImage", "on_test_set", "one_image"]
