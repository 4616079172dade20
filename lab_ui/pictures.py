"""Pixel helpers (numpy and Pillow) for what the pages show as images: crisp upscaling, signed maps in a
blue-white-red scale, a labelled grid drawn as one picture, fast PNG bytes. lab_ui/charts.py holds the
Altair charts."""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence

import numpy as np


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so 28x28 pixels stay crisp in the browser."""
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def diverging_rgb(values: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Map signed values to RGB uint8: blue = positive, red = negative, white = 0."""
    v = np.asarray(values, dtype=np.float32)
    if vmax is None:
        vmax = float(np.abs(v).max()) or 1.0
    t = np.clip(v / vmax, -1.0, 1.0)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    r = 1.0 - pos * 0.85
    g = 1.0 - 0.8 * np.maximum(pos, neg)
    b = 1.0 - neg * 0.85
    return (np.stack([r, g, b], axis=-1) * 255).round().astype(np.uint8)


def signed_images(maps: np.ndarray, factor: int = 4, shared_scale: bool = True) -> list[np.ndarray]:
    """A list of RGB images (one per map) on one colour scale, upscaled."""
    vmax = float(np.abs(maps).max()) or 1.0
    return [upscale(diverging_rgb(m, vmax if shared_scale else None), factor) for m in maps]


def labelled_grid(
    tiles: Sequence[np.ndarray], labels: Sequence[str], per_row: int = 5, label_px: int = 16
) -> np.ndarray:
    """Tiles (equal-size RGB uint8) in a grid with a label under each: ONE image, so a redraw
    during training sends one picture to the browser instead of ten."""
    from PIL import Image, ImageDraw

    h, w = tiles[0].shape[:2]
    pad = 6
    rows = (len(tiles) + per_row - 1) // per_row
    canvas = Image.new("RGB", (per_row * (w + pad) + pad, rows * (h + label_px + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(11)
    for k, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        x = pad + (k % per_row) * (w + pad)
        y = pad + (k // per_row) * (h + label_px + pad)
        canvas.paste(Image.fromarray(tile), (x, y))
        tw = draw.textlength(label, font=font)
        draw.text((x + (w - tw) / 2, y + h + 2), label, fill=(60, 60, 60), font=font)
    return np.asarray(canvas)


def png_bytes(rgb: np.ndarray) -> bytes:
    """An RGB uint8 image as PNG, compressed fast (the Train page makes one per epoch while a run trains)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


@functools.lru_cache(maxsize=4)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()
