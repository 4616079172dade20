"""fmnist_lib.augment: exact mirrors and shifts on tiny images, scaling, and seeded determinism."""

from __future__ import annotations

import torch

from fmnist_lib.augment import MAX_SHIFT, affine_batch, random_augment


def _images(n: int = 3, h: int = 5, w: int = 7) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randint(1, 256, (n, h, w), dtype=torch.uint8, generator=g)  # no zeros: moved pixels show


def _shifted(img: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """img moved dx pixels right and dy down, zeros brought in (the reference for affine_batch)."""
    h, w = img.shape
    out = torch.zeros_like(img)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def test_identity_mirror_and_whole_pixel_shifts_are_exact():
    x = _images()
    none, ones = torch.zeros(3, dtype=torch.bool), torch.ones(3)
    assert torch.equal(affine_batch(x, none, torch.zeros(3, 2), ones), x)
    flip = torch.tensor([True, False, True])
    out = affine_batch(x, flip, torch.zeros(3, 2), ones)
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1]) and torch.equal(out[2], x[2].flip(-1))
    shifts = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    out = affine_batch(x, none, shifts, ones)
    for i, (dx, dy) in enumerate(shifts.int().tolist()):
        assert torch.equal(out[i], _shifted(x[i], dx, dy)), i
    # Mirror first, then shift: the mirrored image moves right.
    out = affine_batch(x[:1], torch.tensor([True]), torch.tensor([[2.0, 0.0]]), torch.ones(1))
    assert torch.equal(out[0], _shifted(x[0].flip(-1), 2, 0))


def test_scale_enlarges_or_shrinks_about_the_centre():
    x = torch.zeros(1, 9, 9, dtype=torch.uint8)
    x[0, 3:6, 3:6] = 200  # a 3x3 square in the middle
    big = affine_batch(x, torch.zeros(1, dtype=torch.bool), torch.zeros(1, 2), torch.tensor([2.0]))
    small = affine_batch(x, torch.zeros(1, dtype=torch.bool), torch.zeros(1, 2), torch.tensor([0.5]))
    assert (big > 0).sum() > (x > 0).sum() > (small > 0).sum() > 0
    for out in (big, small):  # still centred: symmetric under a mirror and an upside-down flip
        assert torch.equal(out, out.flip(-1)) and torch.equal(out, out.flip(-2))
        assert out.dtype == torch.uint8 and out.shape == x.shape


def test_half_pixel_shift_interpolates():
    x = torch.zeros(1, 1, 4, dtype=torch.uint8)
    x[0, 0, 1] = 200
    out = affine_batch(x, torch.zeros(1, dtype=torch.bool), torch.tensor([[0.5, 0.0]]), torch.ones(1))
    assert out[0, 0].tolist() == [0, 100, 100, 0]


def test_same_seed_same_batches_and_only_the_given_generator_is_used():
    x = torch.randint(0, 256, (16, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    global_state = torch.random.get_rng_state()
    a = random_augment(x, torch.Generator().manual_seed(7))
    b = random_augment(x, torch.Generator().manual_seed(7))
    c = random_augment(x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), global_state)
    assert a.shape == x.shape and a.dtype == torch.uint8


def test_random_augment_mirrors_about_half_and_keeps_shifts_small():
    # A single bright pixel per image: where it lands shows the mirror and the shift.
    n = 400
    x = torch.zeros(n, 28, 28, dtype=torch.uint8)
    x[:, 14, 4] = 255  # left of centre
    out = random_augment(x, torch.Generator().manual_seed(0))
    mass = out.float()
    cols = (mass.sum(1) * torch.arange(28.0)).sum(1) / mass.sum((1, 2))  # [N] centre of mass, x
    rows = (mass.sum(2) * torch.arange(28.0)).sum(1) / mass.sum((1, 2))  # [N] centre of mass, y
    mirrored = cols > 13.5
    assert 0.4 < mirrored.float().mean() < 0.6
    # From column 4 (9.5 px left of the centre): scale 0.9-1.1 moves it by <= 1 px, then the shift.
    off_centre = (cols - 13.5).abs()
    assert off_centre.min() >= 9.5 * 0.9 - MAX_SHIFT - 0.5 and off_centre.max() <= 9.5 * 1.1 + MAX_SHIFT + 0.5
    assert (rows - 14).abs().max() <= 14 * 0.1 + MAX_SHIFT + 0.5


def test_mirror_only_mirrors_the_same_images_and_moves_nothing():
    x = torch.randint(0, 256, (32, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    out = random_augment(x, torch.Generator().manual_seed(5), shift_and_scale=False)
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) and not torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    assert bool((flipped | kept).all()) and 8 < int(flipped.sum()) < 24
    # The same draws as with shifts: the same images are mirrored either way (at scale 1, no shift).
    u = torch.rand(32, 5, generator=torch.Generator().manual_seed(5))
    assert torch.equal(flipped, u[:, 0] < 0.5)
