"""Decode an uploaded image safely: bytes, a path or a file object -> an upright 8-bit PIL image.

Unusable input raises `ImageError` with a message meant for the user (empty
file, text or HTML renamed to .png, SVG, truncated files, decompression bombs,
formats other than PNG, JPEG, WebP, GIF and BMP). The pixel count is checked from
the header, before any pixel is decoded. Large JPEGs are decoded reduced
(`Image.draft`), and everything is brought to at most `WORK_SIZE` px before the
heavier steps, so a 12 MP phone photo takes a few tens of milliseconds.
"""

from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass, field
from struct import error as struct_error
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from .files import UnreadableFile, read_regular_file

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the same cap as .streamlit/config.toml's server.maxUploadSize (MB)
MAX_PIXELS = 50_000_000  # 50 megapixels: a 48/50 MP phone photo still fits; bigger is refused unread
WORK_SIZE = 512  # the longest side the pipeline works at (and the Stage images' size)
ACCEPTED = "PNG, JPEG, WebP, GIF or BMP"
# Pillow format names we decode; Pillow opens MPO (what some phones write) as part of JPEG.
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")  # JPEG includes MPO (phones)
_FORMAT_TITLES = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP"}

# EXIF orientation tag value -> the transpose that makes the image upright (as ImageOps.exif_transpose).
_EXIF_ORIENTATION = 0x0112
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageError(ValueError):
    """The input is not a usable image; the message says why, for the user."""


@dataclass
class Decoded:
    """A safely decoded image, reduced to at most WORK_SIZE px on its longest side.

    image: upright (EXIF), first frame, transparency composited on white, 8-bit "RGB" or "L".
    raw: the first frame as stored (no EXIF rotation, no compositing), as the tutorial's
    `Image.open(path)` sees it, reduced the same way.
    """

    image: Image.Image
    raw: Image.Image
    format: str  # "PNG", "JPEG", "WebP", "GIF" or "BMP"
    size: tuple[int, int]  # (width, height) as stored in the file
    steps: list[str] = field(default_factory=list)  # what decoding did, in words


def _read_bytes(src: bytes | str | os.PathLike | BinaryIO) -> bytes:
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif isinstance(src, (str, os.PathLike)):
        try:  # the size first, for the same message as an upload's (stat never blocks, even on a FIFO)
            st = os.stat(src)
        except (OSError, ValueError):
            st = None  # read_regular_file says why
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_size > MAX_UPLOAD_BYTES:
            raise _over_upload_cap()
        try:  # only a regular file, opened non-blocking: a FIFO or a device never blocks or streams forever
            data = read_regular_file(src, MAX_UPLOAD_BYTES + 1, what="image file")
        except UnreadableFile as e:
            raise ImageError(str(e)) from e
    else:
        data = src.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise ImageError("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _over_upload_cap()
    return data


def _over_upload_cap() -> ImageError:
    return ImageError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, the upload limit.")


def _sniff(data: bytes) -> str | None:
    """The format the first bytes announce: one of ALLOWED_FORMATS' titles, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:2] == b"BM":
        return "BMP"
    return None


_OTHER_FORMATS = [
    (lambda d: d.startswith(b"%PDF"), "This is a PDF document, not an image"),
    (lambda d: d[:4] in (b"II*\x00", b"MM\x00*"), "This is a TIFF image, which this app does not read"),
    (
        lambda d: d[4:8] == b"ftyp" and d[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"),
        "This is a HEIC photo (the iPhone's default), which this app does not read; export it as JPEG",
    ),
    (
        lambda d: d[4:8] == b"ftyp" and d[8:12] in (b"avif", b"avis"),
        "This is an AVIF image, which this app does not read",
    ),
    (lambda d: d[4:8] == b"ftyp", "This is a video or MP4-family file, not an image"),
    (lambda d: d.startswith(b"\x00\x00\x01\x00"), "This is an icon (ICO) file, which this app does not read"),
    (lambda d: d.startswith(b"8BPS"), "This is a Photoshop (PSD) file, which this app does not read"),
    (lambda d: d.startswith(b"PK\x03\x04"), "This is a ZIP archive (or an Office document), not an image"),
    (lambda d: d.startswith(b"\x1f\x8b"), "This is a gzip-compressed file, not an image"),
    (
        lambda d: d.startswith((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")),
        "This is a JPEG 2000 image, which this app does not read",
    ),
]


def _refuse_non_image(data: bytes) -> None:
    """Raise ImageError naming what the file is when it is clearly not an image we read."""
    for test, what in _OTHER_FORMATS:
        if test(data):
            raise ImageError(f"{what}; please upload {ACCEPTED}.")
    head = data[:4096]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in text or (text.startswith(b"<?xml") and b"svg" in text):
        raise ImageError(f"This is an SVG (vector) image; please upload {ACCEPTED}.")
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text[:512]:
        raise ImageError(f"This file is a web page (HTML), not an image; please upload {ACCEPTED}.")
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            is_text = True
        except UnicodeDecodeError as e:
            is_text = e.start >= len(head) - 3  # only a multi-byte character cut at the end
        if is_text:
            raise ImageError(f"This file contains text, not an image; please upload {ACCEPTED}.")


def _probe_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """The stored size read from the header alone (used when Pillow refuses to open a huge image)."""
    name = {"WebP": "WEBP"}.get(fmt, fmt)
    Image.init()
    opener = Image.OPEN.get(name)
    if opener is None:
        return None
    try:
        return opener[0](io.BytesIO(data)).size  # the plugin's header parser only; no pixels
    except Exception:
        return None


def _too_big(w: int, h: int) -> ImageError:
    return ImageError(
        f"This image is {w}×{h} pixels ({w * h / 1e6:.0f} megapixels); the limit is "
        f"{MAX_PIXELS / 1e6:.0f} megapixels. Please upload a smaller image."
    )


def _damaged(fmt: str, e: BaseException) -> ImageError:
    msg = str(e).lower()
    if isinstance(e, (EOFError, UnidentifiedImageError)) or "truncated" in msg or "eof" in msg or "end of file" in msg:
        return ImageError(f"This {fmt} is truncated: the file ends before the image data does.")
    return ImageError(f"This {fmt} file is damaged and cannot be decoded ({str(e)[:120] or type(e).__name__}).")


def _open_checked(data: bytes) -> tuple[Image.Image, str]:
    """Open lazily (header only), check the format and the pixel count; nothing is decoded yet."""
    fmt = _sniff(data)
    if fmt is None:
        _refuse_non_image(data)
    try:
        img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as e:
        size = _probe_size(data, fmt or "")
        if size:
            raise _too_big(*size) from e
        m = re.search(r"\((\d+) pixels\)", str(e))
        mp = f"{int(m.group(1)) / 1e6:.0f} megapixels" if m else "too many pixels"
        raise ImageError(f"This image has {mp}; the limit is {MAX_PIXELS / 1e6:.0f} megapixels.") from e
    except UnidentifiedImageError as e:
        if fmt is not None:
            raise _damaged(fmt, e) from e
        raise ImageError(f"This file is not an image this app can read; please upload {ACCEPTED}.") from e
    except (OSError, SyntaxError, ValueError, EOFError, struct_error) as e:
        raise _damaged(fmt or "image", e) from e
    title = _FORMAT_TITLES.get(img.format or "", fmt or "image")
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageError(f"This {title} has no pixels ({w}×{h}).")
    if w * h > MAX_PIXELS:
        raise _too_big(w, h)
    return img, title


def _to_8bit(img: Image.Image, steps: list[str]) -> Image.Image:
    """Any mode -> 8-bit "L" or "RGB"; transparency composited on white; 16-bit and float scaled, not clipped."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(img)
        transparent = None
        if "transparency" in img.info and isinstance(img.info["transparency"], int):
            transparent = a == img.info["transparency"]
        a = a.astype(np.float64)
        if mode.startswith("I;16") or (mode == "I" and a.size and a.min() >= 0 and a.max() <= 65535):
            a = a / 257.0
            steps.append("16-bit grey scaled to 8 bits (65535 -> 255).")
        elif mode == "F" and a.size and a.min() >= 0 and a.max() <= 1:
            a = a * 255.0
            steps.append("Floating-point grey (0-1) scaled to 8 bits.")
        else:
            lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
            a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
            steps.append(f"{mode} pixels ({lo:g} to {hi:g}) stretched to 0-255.")
        if transparent is not None:
            a[transparent] = 255.0
            steps.append("The transparent colour was made white.")
        return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            steps.append("Transparent parts composited onto white.")
            return Image.alpha_composite(white, rgba).convert("RGB")
        return rgba.convert("RGB")
    if mode in ("L", "RGB"):
        return img
    if mode == "1":
        return img.convert("L")
    if mode == "CMYK":
        steps.append("CMYK colours converted to RGB.")
    try:
        return img.convert("RGB")
    except ValueError as e:
        raise ImageError(f"This image's colour mode ({mode}) is not supported; please save it as RGB.") from e


def reduce_image(img: Image.Image, size: int = WORK_SIZE) -> Image.Image:
    """A copy at most `size` px on its longest side (Lanczos), or the image itself when it fits."""
    if max(img.size) <= size:
        return img
    out = img.copy()
    out.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return out


def open_image(src: bytes | str | os.PathLike | BinaryIO) -> Decoded:
    """Read and decode an image safely. Raises ImageError, with a message for the user, for unusable input."""
    data = _read_bytes(src)
    img, title = _open_checked(data)
    stored = img.size
    steps = [f"{title}, {stored[0]}×{stored[1]} px, {img.mode}."]
    try:
        if getattr(img, "is_animated", False):
            img.seek(0)
            steps.append("Animated image: its first frame is used.")
        try:
            orientation = int(img.getexif().get(_EXIF_ORIENTATION, 1))
        except Exception:  # an unreadable EXIF block does not stop the image; say so
            orientation = 1
            steps.append("The EXIF block is unreadable; orientation left as stored.")
        if img.format in ("JPEG", "MPO") and max(img.size) > 2 * WORK_SIZE:
            img.draft(img.mode, (WORK_SIZE, WORK_SIZE))  # decode at 1/2, 1/4 or 1/8 scale: fast
            if img.size != stored:  # draft only reduces while both sides stay >= WORK_SIZE
                steps.append(f"Large JPEG decoded reduced to {img.size[0]}×{img.size[1]}.")
        img.load()
    except Image.DecompressionBombError as e:
        raise _too_big(*stored) from e
    except (OSError, SyntaxError, ValueError, EOFError, struct_error, IndexError, TypeError) as e:
        raise _damaged(title, e) from e
    raw = reduce_image(img.convert("L") if img.mode not in ("L",) else img)
    image = _to_8bit(img, steps)
    if max(image.size) > WORK_SIZE:
        image = reduce_image(image)
        steps.append(f"Reduced to {image.size[0]}×{image.size[1]} px to work on.")
    method = _UPRIGHT.get(orientation)
    if method is not None:
        image = image.transpose(method)
        steps.append(f"Turned upright using its EXIF orientation ({orientation}).")
    return Decoded(image=image, raw=raw, format=title, size=stored, steps=steps)


def decode_image(src: bytes | str | os.PathLike | BinaryIO) -> Image.Image:
    """Decode to an 8-bit greyscale PIL image, upright, at most WORK_SIZE px. Raises ImageError if unusable."""
    return open_image(src).image.convert("L")
