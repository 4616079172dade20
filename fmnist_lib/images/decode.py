"""Decode an uploaded image safely: bytes, a path or a file object -> an upright 8-bit PIL image.

Unusable input raises `ImageError` with a message meant for the user (empty
file, text or HTML renamed to .png, SVG, truncated or damaged files, decompression
bombs, formats other than PNG, JPEG, WebP, GIF and BMP). The size is checked from
the header (image_header.py, then Pillow's), before any pixel is decoded: the pixel
count against what decoding it would hold in memory, and the aspect ratio. Large
JPEGs are decoded reduced (`Image.draft`), and every image is brought to at most
`WORK_SIZE` px right after decoding, before any other step makes a copy of it, so a
12 MP phone photo takes a few tens of milliseconds and no upload needs more than
about 100 MB.
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from struct import error as struct_error
from typing import BinaryIO

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from ..files import UnreadableFile, read_regular_file
from .image_header import PNG_SIGNATURE, jpeg_frame, jpeg_scan_problem, png_chunks_problem, png_header_problem

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the same cap as .streamlit/config.toml's server.maxUploadSize (MB)
MAX_PIXELS = 50_000_000  # a sequential JPEG, decoded reduced (draft): a 48/50 MP phone photo still fits
# Every other kind holds all its pixels (a progressive JPEG all its DCT coefficients) in memory while it
# is decoded, a WebP twice (libwebp's buffer, then Pillow's): 16 MP is 64 MB as RGBA, and a 12 MP phone
# photo saved as PNG still fits. Peak memory per kind: bench/results/hostile_uploads.md.
PIXEL_LIMITS = {
    "JPEG": MAX_PIXELS,
    "progressive JPEG": 16_000_000,
    "PNG": 16_000_000,
    "GIF": 16_000_000,
    "BMP": 16_000_000,
    "WebP": 8_000_000,
}
MAX_ASPECT = 100  # the long side over the short one: a 100:1 strip still works, no garment photo comes near
WORK_SIZE = 512  # the longest side the pipeline works at (and the Stage images' size)
# A full-size decode of more pixels than this (a 16 MP PNG holds ~150 MB until it is shrunk to WORK_SIZE)
# waits for the one before it to finish, so a class uploading at once cannot add those buffers up in one
# server process (bench/results/hostile_uploads.md). A JPEG is decoded reduced (draft) and never waits.
LARGE_DECODE_PIXELS = 4_000_000
_LARGE_DECODES = threading.BoundedSemaphore(1)
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
        try:  # an upload's file object, or any stream: its read() may fail like a file's
            data = src.read(MAX_UPLOAD_BYTES + 1)
        except (OSError, ValueError) as e:  # ValueError: a closed file
            reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise ImageError(f"The file could not be read: {reason}.") from e
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ImageError("The file was opened as text; it must be read as bytes.")
        data = bytes(data)
    if not data:
        raise ImageError("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _over_upload_cap()
    return data


def _over_upload_cap() -> ImageError:
    return ImageError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, the upload limit.")


def _sniff(data: bytes) -> str | None:
    """The format the first bytes announce: one of ALLOWED_FORMATS' titles, or None."""
    if data.startswith(PNG_SIGNATURE):
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


def _pixel_limit(kind: str) -> int:
    return PIXEL_LIMITS.get(kind, min(PIXEL_LIMITS.values()))


def _too_big(w: int, h: int, kind: str) -> ImageError:
    """The image has more pixels than PIXEL_LIMITS allows its kind ("PNG", "progressive JPEG", ...)."""
    limit = _pixel_limit(kind)
    why = f"a {kind} is decoded whole, so its limit is" if limit < MAX_PIXELS else "the limit is"
    also = f" (a JPEG's is {MAX_PIXELS / 1e6:.0f})" if limit < MAX_PIXELS else ""
    return ImageError(
        f"This {kind} is {w}×{h} pixels ({w * h / 1e6:.0f} megapixels); {why} {limit / 1e6:.0f} megapixels"
        f"{also}. Please upload a smaller image."
    )


def _too_long(w: int, h: int, title: str) -> ImageError:
    ratio = max(w, h) / min(w, h)
    return ImageError(
        f"This {title} is {w}×{h} pixels: one side is {ratio:,.0f} times the other, and the limit is "
        f"{MAX_ASPECT}:1 (no photo of a garment is that long and thin). Please crop it to the garment."
    )


def _metadata_too_large(e: BaseException) -> ImageError | None:
    """Pillow's refusal of an oversized text or colour-profile chunk, in plain words (or None)."""
    msg = str(e)
    if "MAX_TEXT_CHUNK" in msg:
        mb = PngImagePlugin.MAX_TEXT_CHUNK // 2**20
        what = f"a metadata chunk (text or a colour profile) that unpacks to more than {mb} MB"
    elif "text chunks" in msg:  # "Too much memory used in text chunks" (MAX_TEXT_MEMORY)
        what = f"more than {PngImagePlugin.MAX_TEXT_MEMORY // 2**20} MB of text metadata"
    else:
        return None
    return ImageError(
        f"This PNG carries {what}, more than this app reads. Save it again without metadata and upload that."
    )


def _damaged(fmt: str, e: BaseException) -> ImageError:
    msg = str(e).lower()
    metadata = _metadata_too_large(e)
    if metadata is not None:
        return metadata
    if "checksum" in msg or "crc" in msg:
        return ImageError(f"This {fmt} is damaged: part of it fails its checksum.")
    if (
        isinstance(e, (EOFError, struct_error, UnidentifiedImageError))
        or "truncated" in msg
        or "eof" in msg
        or "end of file" in msg
    ):
        return ImageError(f"This {fmt} is truncated: the file ends before the image data does.")
    return ImageError(f"This {fmt} file is damaged and cannot be decoded ({str(e)[:120] or type(e).__name__}).")


def _header_problem(data: bytes, fmt: str | None) -> str | None:
    """A fault image_header.py finds before Pillow reads the file: a broken PNG header, or a JPEG
    whose scan data is too short for the size it claims."""
    if fmt == "PNG":
        return png_header_problem(data)
    if fmt == "JPEG":
        frame = jpeg_frame(data)
        return jpeg_scan_problem(frame, data) if frame is not None else None
    return None


def _open_checked(data: bytes) -> tuple[Image.Image, str]:
    """Open lazily (header only), check the format, the size and the aspect ratio; nothing is decoded yet."""
    fmt = _sniff(data)
    if fmt is None:
        _refuse_non_image(data)
    problem = _header_problem(data, fmt)
    if problem is not None:
        raise ImageError(problem)
    try:
        img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as e:
        size = _probe_size(data, fmt or "")
        if size:
            raise _too_big(*size, fmt or "image") from e
        m = re.search(r"\((\d+) pixels\)", str(e))
        mp = f"{int(m.group(1)) / 1e6:.0f} megapixels" if m else "too many pixels"
        raise ImageError(f"This image has {mp}; the limit is {MAX_PIXELS / 1e6:.0f} megapixels.") from e
    except UnidentifiedImageError as e:
        if fmt is not None:
            problem = png_chunks_problem(data) if fmt == "PNG" else None  # Pillow's own reason is not for users
            raise (ImageError(problem) if problem else _damaged(fmt, e)) from e
        raise ImageError(f"This file is not an image this app can read; please upload {ACCEPTED}.") from e
    except (OSError, SyntaxError, ValueError, EOFError, struct_error) as e:
        raise _damaged(fmt or "image", e) from e
    title = _FORMAT_TITLES.get(img.format or "", fmt or "image")
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageError(f"This {title} has no pixels ({w}×{h}).")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise _too_long(w, h, title)
    kind = "progressive JPEG" if title == "JPEG" and img.info.get("progressive") else title
    if w * h > _pixel_limit(kind):
        raise _too_big(w, h, kind)
    return img, title


def _to_8bit(img: Image.Image, steps: list[str]) -> Image.Image:
    """Any mode -> 8-bit "L" or "RGB"; transparency composited on white; 16-bit and float scaled, not clipped."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(img)
        transparent = None
        if "transparency" in img.info and isinstance(img.info["transparency"], int):
            transparent = a == img.info["transparency"]
        # float32, in place: exact for 16-bit values (v / 257 is never within float32's error of a half)
        a = a.astype(np.float32)
        if mode.startswith("I;16") or (mode == "I" and a.size and a.min() >= 0 and a.max() <= 65535):
            a /= 257.0
            steps.append("16-bit grey scaled to 8 bits (65535 -> 255).")
        elif mode == "F" and a.size and a.min() >= 0 and a.max() <= 1:
            a *= 255.0
            steps.append("Floating-point grey (0-1) scaled to 8 bits.")
        else:
            lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
            a -= lo
            a *= 255.0 / (hi - lo) if hi > lo else 0.0
            steps.append(f"{mode} pixels ({lo:g} to {hi:g}) stretched to 0-255.")
        if transparent is not None:
            a[transparent] = 255.0
            steps.append("The transparent colour was made white.")
        np.rint(a, out=a)
        np.clip(a, 0, 255, out=a)
        return Image.fromarray(a.astype(np.uint8), "L")
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


def fit_size(size: tuple[int, int], limit: int = WORK_SIZE) -> tuple[int, int]:
    """(width, height) scaled to at most `limit` px on the longest side, as Image.thumbnail rounds it."""
    w, h = size
    if w <= limit and h <= limit:
        return w, h
    aspect = w / h

    def rounded(n: float, key) -> int:
        return max(min(math.floor(n), math.ceil(n), key=key), 1)

    if aspect <= 1:  # as tall as wide or taller: the height becomes `limit`
        return rounded(limit * aspect, key=lambda n: abs(aspect - n / limit)), limit
    return limit, rounded(limit / aspect, key=lambda n: 0 if n == 0 else abs(aspect - limit / n))


def reduce_image(img: Image.Image, size: int = WORK_SIZE) -> Image.Image:
    """At most `size` px on its longest side (Lanczos, as Image.thumbnail), or the image itself when it fits.

    Resized straight from img, not from a full-size copy as thumbnail() needs."""
    if max(img.size) <= size:
        return img
    return img.resize(fit_size(img.size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)


def _resamplable(img: Image.Image) -> Image.Image:
    """img in a mode whose pixels can be averaged without changing what they show: a palette or 1-bit
    becomes RGB or L, a transparent colour key becomes an alpha channel (resized premultiplied)."""
    mode = img.mode
    if "transparency" in img.info or mode == "PA":
        return img.convert("LA" if mode in ("1", "L") else "RGBA")
    if mode in ("L", "LA", "RGB", "RGBA"):
        return img
    return img.convert("L" if mode == "1" else "RGB")  # P, CMYK and the rest: as _to_8bit would


def _work_image(img: Image.Image, steps: list[str]) -> Image.Image:
    """The decoded image as 8-bit "L" or "RGB" of at most WORK_SIZE px, reduced before anything else
    copies it (16-bit and float images are scaled to 8 bits first, one byte per pixel)."""
    if max(img.size) > WORK_SIZE:
        deep = img.mode.startswith("I") or img.mode == "F"
        img = reduce_image(_to_8bit(img, steps) if deep else _resamplable(img))
        steps.append(f"Reduced to {img.size[0]}×{img.size[1]} px to work on.")
    return _to_8bit(img, steps)


def _load(data: bytes, size: int, steps: list[str]) -> tuple[Image.Image, str, tuple[int, int], int]:
    """Open (checked), take the first frame, read the EXIF orientation and decode; a JPEG at the most
    reduced scale that keeps its longest side >= size. Returns (image, title, stored size, orientation)."""
    img, title = _open_checked(data)
    stored = img.size
    steps.append(f"{title}, {stored[0]}×{stored[1]} px, {img.mode}.")
    try:
        if getattr(img, "is_animated", False):
            img.seek(0)
            steps.append("Animated image: its first frame is used.")
        try:
            orientation = int(img.getexif().get(_EXIF_ORIENTATION, 1))
        except Exception:  # an unreadable EXIF block does not stop the image; say so
            orientation = 1
            steps.append("The EXIF block is unreadable; orientation left as stored.")
        if img.format in ("JPEG", "MPO") and max(img.size) > 2 * size:
            # decode at 1/2, 1/4 or 1/8 scale: fast, and a long thin JPEG is reduced as much as a square one
            img.draft(img.mode, fit_size(img.size, size))
            if img.size != stored:
                steps.append(f"Large JPEG decoded reduced to {img.size[0]}×{img.size[1]}.")
        img.load()
    except Image.DecompressionBombError as e:
        raise _too_big(*stored, title) from e
    except (OSError, SyntaxError, ValueError, EOFError, struct_error, IndexError, TypeError) as e:
        raise _damaged(title, e) from e
    return img, title, stored, orientation


def _upright(img: Image.Image, orientation: int, steps: list[str]) -> Image.Image:
    method = _UPRIGHT.get(orientation)
    if method is None:
        return img
    steps.append(f"Turned upright using its EXIF orientation ({orientation}).")
    return img.transpose(method)


def _one_large_decode_at_a_time(data: bytes) -> AbstractContextManager:
    """The slot a large full-size decode takes (see LARGE_DECODE_PIXELS); nothing for the others."""
    fmt = _sniff(data)
    size = _probe_size(data, fmt) if fmt not in (None, "JPEG") else None
    if size is None or size[0] * size[1] <= LARGE_DECODE_PIXELS:
        return nullcontext()
    return _LARGE_DECODES


def open_image(src: bytes | str | os.PathLike | BinaryIO) -> Decoded:
    """Read and decode an image safely. Raises ImageError, with a message for the user, for unusable input."""
    steps: list[str] = []
    data = _read_bytes(src)
    with _one_large_decode_at_a_time(data):  # until the full-size image is shrunk
        img, title, stored, orientation = _load(data, WORK_SIZE, steps)
        raw = reduce_image(img.convert("L") if img.mode not in ("L",) else img)
        image = _upright(_work_image(img, steps), orientation, steps)
    return Decoded(image=image, raw=raw, format=title, size=stored, steps=steps)


def preview_image(src: bytes | str | os.PathLike | BinaryIO, size: int = WORK_SIZE) -> Image.Image:
    """The image as a viewer shows it, to display: upright, first frame, at most `size` px, in colour with its
    transparency kept ("L", "LA", "RGB" or "RGBA"); read with open_image's checks and bounds (ImageError)."""
    steps: list[str] = []
    data = _read_bytes(src)
    with _one_large_decode_at_a_time(data):
        img, _, _, orientation = _load(data, size, steps)
        if img.mode.startswith("I") or img.mode == "F":  # 16-bit or float grey: scaled to 8 bits, not clipped
            img = _to_8bit(img, steps)
        return _upright(reduce_image(_resamplable(img), size), orientation, steps)


def decode_image(src: bytes | str | os.PathLike | BinaryIO) -> Image.Image:
    """Decode to an 8-bit greyscale PIL image, upright, at most WORK_SIZE px. Raises ImageError if unusable."""
    return open_image(src).image.convert("L")
