"""Turn an uploaded image into a Fashion-MNIST-style 28x28 uint8 image, step by step.

Provisional version (foundation issue): decodes safely and runs two pipelines,
"ours" and "tutorial". The real-photo pipeline is built in the uploads issue.
The result is always uint8 pixels; the classifier applies the model's own
input scaling (scaling.py), so no pipeline here normalises anything.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, ImageStat, UnidentifiedImageError

PIPELINES = ("ours", "tutorial")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class ImageError(ValueError):
    """The input is not a usable image; the message says why, for the user."""


@dataclass
class Stage:
    name: str  # short title shown above the image
    image: Image.Image  # the image after this step
    caption: str = ""  # one sentence on what this step did


@dataclass
class Preprocessed:
    pixels: np.ndarray  # [28, 28] uint8, a light garment on black, as in Fashion-MNIST
    stages: list[Stage] = field(default_factory=list)
    pipeline: str = "ours"


def _read_bytes(src: bytes | str | os.PathLike | BinaryIO) -> bytes:
    if isinstance(src, (bytes, bytearray)):
        data = bytes(src)
    elif isinstance(src, (str, os.PathLike)):
        try:
            with open(src, "rb") as f:
                data = f.read(MAX_UPLOAD_BYTES + 1)
        except OSError as e:
            raise ImageError(f"Cannot read {os.fspath(src)}: {e.strerror or e}.") from e
    else:
        data = src.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise ImageError("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    return data


def decode_image(src: bytes | str | os.PathLike | BinaryIO) -> Image.Image:
    """Decode to an 8-bit greyscale PIL image, upright. Raises ImageError for anything unusable."""
    data = _read_bytes(src)
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        img = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"This file is not an image this app can read ({e}).") from e
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return img.convert("L")


def _fit_on_canvas(img: Image.Image, longest: int) -> Image.Image:
    w, h = img.size
    scale = longest / max(w, h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = img.resize((new_w, new_h), resample=Image.Resampling.LANCZOS)
    canvas = Image.new("L", (28, 28), 0)
    canvas.paste(small, ((28 - new_w) // 2, (28 - new_h) // 2))
    return canvas


def tutorial_pipeline(src) -> Preprocessed:
    """The tutorial's steps: grey, invert if bright, autocontrast, longest side 20 px on 28x28."""
    grey = decode_image(src)
    stages = [Stage("Greyscale", grey, "Decoded and converted to grey.")]
    img = grey
    if ImageStat.Stat(img).mean[0] / 255.0 > 0.5:
        img = ImageOps.invert(img)
        stages.append(Stage("Inverted", img, "The mean was bright, so the image was inverted."))
    img = ImageOps.autocontrast(img)
    stages.append(Stage("Autocontrast", img, "Stretched to the full 0-255 range."))
    w, h = img.size
    scale = 20 / max(w, h)
    small = img.resize((max(1, int(w * scale)), max(1, int(h * scale))), resample=Image.Resampling.BILINEAR)
    canvas = Image.new("L", (28, 28), 0)
    canvas.paste(small, ((28 - small.size[0]) // 2, (28 - small.size[1]) // 2))
    stages.append(Stage("28x28", canvas, "Longest side shrunk to 20 px and pasted on a black 28x28 canvas."))
    return Preprocessed(np.asarray(canvas, dtype=np.uint8).copy(), stages, "tutorial")


def our_pipeline(src) -> Preprocessed:
    grey = decode_image(src)
    stages = [Stage("Greyscale", grey, "Decoded, turned upright and converted to grey.")]
    img = grey
    if ImageStat.Stat(img).mean[0] / 255.0 > 0.5:
        img = ImageOps.invert(img)
        stages.append(Stage("Inverted", img, "Light background: inverted to a light garment on black."))
    bbox = img.point(lambda v: 255 if v > 40 else 0).getbbox()
    if bbox:
        img = img.crop(bbox)
        stages.append(Stage("Cropped", img, "Cropped to the garment."))
    canvas = _fit_on_canvas(ImageOps.autocontrast(img), 28)
    stages.append(Stage("28x28", canvas, "Longest side resized to 28 px and centred."))
    return Preprocessed(np.asarray(canvas, dtype=np.uint8).copy(), stages, "ours")


def preprocess_image(src, pipeline: str = "ours") -> Preprocessed:
    """Run a named pipeline ("ours" or "tutorial"). Raises ImageError for unusable input."""
    if pipeline == "ours":
        return our_pipeline(src)
    if pipeline == "tutorial":
        return tutorial_pipeline(src)
    raise ValueError(f"Unknown pipeline {pipeline!r}; choose one of {', '.join(PIPELINES)}.")
