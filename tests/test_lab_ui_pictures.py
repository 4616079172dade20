"""lab_ui/pictures.py without a script run: upscaling, signed maps, the labelled grid, PNG bytes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from lab_ui import pictures


def test_upscale_repeats_each_pixel_into_a_square():
    img = np.array([[0, 255], [128, 7]], dtype=np.uint8)
    big = pictures.upscale(img, 3)
    assert big.shape == (6, 6) and big.dtype == np.uint8
    assert (big[:3, :3] == 0).all() and (big[:3, 3:] == 255).all() and (big[3:, 3:] == 7).all()


def test_diverging_rgb_is_blue_for_positive_red_for_negative_white_for_zero():
    rgb = pictures.diverging_rgb(np.array([[1.0, -1.0, 0.0]]))
    blue, red, white = rgb[0]
    assert blue[2] > blue[0] and red[0] > red[2]
    assert tuple(white) == (255, 255, 255)


def test_signed_images_share_one_scale_unless_told_otherwise():
    maps = np.array([[[1.0]], [[0.5]]])
    shared = pictures.signed_images(maps, factor=2)
    own = pictures.signed_images(maps, factor=2, shared_scale=False)
    assert [m.shape for m in shared] == [(2, 2, 3), (2, 2, 3)]
    assert (shared[1] != shared[0]).any()  # half the largest value: paler than it
    assert (own[1] == own[0]).all()  # each at its own largest value: the same colour


def test_labelled_grid_is_one_picture_with_room_for_each_label():
    tiles = [np.zeros((10, 12, 3), dtype=np.uint8)] * 7
    grid = pictures.labelled_grid(tiles, [f"class {k}" for k in range(7)], per_row=5, label_px=16)
    pad = 6
    assert grid.shape == (2 * (10 + 16 + pad) + pad, 5 * (12 + pad) + pad, 3)


def test_png_bytes_decode_to_the_same_pixels():
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    back = np.asarray(Image.open(io.BytesIO(pictures.png_bytes(rgb))))
    assert (back == rgb).all()
