"""The preprocessing contract: how 0-255 pixels become model inputs.

A model is trained on `InputScaling.apply(uint8 images)` and the same scaling
is stored with it (in the TrainingRun, the Classifier and the checkpoint), so
every prediction (test images, uploads, the CLI) scales pixels exactly as
training did. Nothing else in the project turns pixels into floats for a model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

# Fashion-MNIST's training-set pixel mean and std, on the [0, 1] scale.
FMNIST_MEAN = 0.2860
FMNIST_STD = 0.3530


@dataclass(frozen=True)
class InputScaling:
    """x = (pixel / 255 - mean) / std. The tutorial's softmax model uses mean 0, std 1: [0, 1] pixels."""

    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        if not (self.std > 0):
            raise ValueError(f"InputScaling std must be positive, got {self.std}")

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
