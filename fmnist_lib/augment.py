"""Training-time augmentation: random mirror images, small shifts and scalings of a whole batch.

Every Fashion-MNIST shoe points left and every garment fills its 28x28 frame the same way, so a
model trained on them alone is fooled by a right-pointing shoe or a garment drawn a little
smaller. Showing it mirrored, shifted and rescaled copies while it trains removes that bias.

All of it is one linear resampling of the batch, as tensor
ops on [B, H, W] uint8 images, and every random number comes from the run's own generator: the
same seed gives the same augmented batches. The result is rounded back to uint8 pixels, so the
model's input scaling (scaling.py) is applied to it exactly as to any other image.
"""

from __future__ import annotations

import torch

FLIP_PROBABILITY = 0.5  # garments are left-right symmetric in kind: a mirrored shoe is still a shoe
MAX_SHIFT = 2  # whole pixels in x and y: how far off-centre an upload's garment can end up
# Rescaling (garment size relative to Fashion-MNIST's frame-filling 28 px) interpolates, which
# blurs; test images are crisp, so only some images are rescaled (bench/results/cnn_sweep.md).
SCALE_PROBABILITY = 0.3
SCALE_RANGE = (0.9, 1.1)


def _tent_matrix(n: int, mirror: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Linear-interpolation weights along one axis: [B, n_out, n_in].

    Output pixel j samples the input at src = mirror * (j - centre - shift) / scale + centre
    (pixel centres, as F.grid_sample with align_corners=False); the weight of input pixel i
    is max(0, 1 - |src - i|), so an integer src picks one pixel exactly, and a src outside
    the frame picks nothing (background 0).
    """
    centre = (n - 1) / 2
    pos = torch.arange(n, dtype=torch.float32) - centre  # [n]
    src = mirror[:, None] * (pos[None, :] - shift[:, None]) / scale[:, None] + centre  # [B, n]
    return (1.0 - (src[:, :, None] - torch.arange(n, dtype=torch.float32)).abs()).clamp_(min=0.0)


def affine_batch(images: torch.Tensor, flip: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mirror, rescale about the centre, then shift each image: uint8 [B, H, W] -> uint8 [B, H, W].

    flip: [B] bool (mirror left-right); shift: [B, 2] float pixels (dx to the right, dy down);
    scale: [B] float (>1 enlarges). Pixels brought in from outside the frame are 0 (background).
    A mirror and whole-pixel shifts at scale 1 move pixels exactly (no interpolation).
    The transform has no rotation, so it is separable: out = Ry @ x @ Rx^T, two small batched
    matrix products (a few times faster than F.affine_grid + F.grid_sample on the CPU).
    """
    b, h, w = images.shape
    scale = scale.to(torch.float32)
    ones = torch.ones(b)
    rx = _tent_matrix(w, torch.where(flip, -1.0, 1.0), scale, shift[:, 0].to(torch.float32))  # [B, W, W]
    ry = _tent_matrix(h, ones, scale, shift[:, 1].to(torch.float32))  # [B, H, H]
    x = images.to(torch.float32)  # [B, H, W]
    out = torch.bmm(torch.bmm(ry, x), rx.transpose(1, 2))  # [B, H, W]
    return out.round_().clamp_(0, 255).to(torch.uint8)


def random_augment(images: torch.Tensor, generator: torch.Generator, shift_and_scale: bool = True) -> torch.Tensor:
    """A random mirror and (shift_and_scale) whole-pixel shift and sometimes rescaling per image.

    images: uint8 [B, H, W]. Draws 5 numbers per image from `generator`, in a fixed order, either way.
    """
    b = images.shape[0]
    u = torch.rand(b, 5, generator=generator)  # [B, 5]: flip, dx, dy, rescale or not, scale
    flip = u[:, 0] < FLIP_PROBABILITY
    if not shift_and_scale:
        return torch.where(flip[:, None, None], images.flip(-1), images)
    shift = (u[:, 1:3] * (2 * MAX_SHIFT + 1)).floor_().clamp_(max=2 * MAX_SHIFT) - MAX_SHIFT  # [B, 2] integers
    lo, hi = SCALE_RANGE
    scale = torch.where(u[:, 3] < SCALE_PROBABILITY, lo + (hi - lo) * u[:, 4], 1.0)
    return affine_batch(images, flip, shift, scale)
