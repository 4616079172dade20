"""Tiny synthetic data for unit tests (the real data is for integration tests only)."""

from __future__ import annotations

import torch

from fmnist_lib import FashionMNIST
from fmnist_lib.data import CLASSES


def make_tiny_data(n_train: int = 64, n_test: int = 32, seed: int = 0) -> FashionMNIST:
    """Synthetic, learnable 28x28 data: class c lights up a band of rows around 2.5*c."""
    g = torch.Generator().manual_seed(seed)

    def split(n):
        labels = torch.randint(0, 10, (n,), generator=g)
        images = torch.randint(0, 40, (n, 28, 28), generator=g, dtype=torch.int64)
        for i, c in enumerate(labels.tolist()):
            images[i, 2 * c + 2 : 2 * c + 6, 4:24] += 200
        return images.clamp(0, 255).to(torch.uint8), labels

    tx, ty = split(n_train)
    vx, vy = split(n_test)
    return FashionMNIST(tx, ty, vx, vy, CLASSES, source="tiny synthetic data")
