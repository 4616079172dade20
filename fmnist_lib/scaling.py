"""The preprocessing contract: how 0-255 pixels become model inputs.

A model is trained on `InputScaling.apply(uint8 images)` and the same scaling
is stored with it (in the TrainingRun, the Classifier and the checkpoint), so
every prediction (test images, uploads, the CLI) scales pixels exactly as
training did. Nothing else in the project turns pixels into floats for a model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

# Fashion-MNIST's training-set pixel mean and std, on the [0, 1] scale.
FMNIST_MEAN = 0.2860
FMNIST_STD = 0.3530
# What a scaling may be: the mean of [0, 1] pixels lies in [0, 1]; a std far outside
# [0.01, 10] turns pixels into zeros or into values no model was trained on (std 1e-40
# gives infinities).
MEAN_RANGE = (0.0, 1.0)
STD_RANGE = (0.01, 10.0)


@dataclass(frozen=True)
class InputScaling:
    """x = (pixel / 255 - mean) / std. The tutorial's softmax model uses mean 0, std 1: [0, 1] pixels."""

    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        for name, value, (lo, hi) in (("mean", self.mean, MEAN_RANGE), ("std", self.std, STD_RANGE)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
                raise ValueError(f"the input scaling's {name} must be a number from {lo:g} to {hi:g}, not {value!r}")

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, 28, 28] or [N, 1, 28, 28] -> float32 [N, 1, 28, 28]; flat rows [N, 784] stay [N, 784]."""
        if images.dtype != torch.uint8:
            raise TypeError(
                f"Models take uint8 pixel images (0-255) and scale them themselves; got {images.dtype}. "
                "Pass the 28x28 uint8 image, not an already-scaled tensor."
            )
        if images.dim() == 3:
            images = images.unsqueeze(1)
        x = images.to(torch.float32)
        if self.mean == 0.0:
            return x.mul_(1.0 / (255.0 * self.std))
        return x.mul_(1.0 / 255.0).sub_(self.mean).div_(self.std)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> InputScaling:
        return cls(mean=float(d["mean"]), std=float(d["std"]))


UNIT = InputScaling(0.0, 1.0)
STANDARDIZED = InputScaling(FMNIST_MEAN, FMNIST_STD)
