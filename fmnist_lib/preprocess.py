"""Turn an uploaded image into a Fashion-MNIST-style 28x28 uint8 image, step by step.

Two pipelines, both returning `Preprocessed` (uint8 [28, 28] pixels, a light
garment on black, plus every intermediate `Stage` for the Upload page):

* ``"ours"`` - for real photos: decode safely and upright, grey; estimate the
  (possibly uneven) background as a plane fitted to the border pixels; measure
  each pixel's difference to it relative to the local background (the sign
  decides the polarity, so the garment comes out light on black either way);
  keep the garment (Otsu's threshold, what it encloses and a thin margin) and
  blacken the rest (shadow, specks); stand it upright when it lies 2-10 degrees
  off (the median of three tilt estimates: smallest box, edges along the axes,
  mirror symmetry); crop to it, resize its longest side to 28 px
  and centre it on 28x28, set the brightest part to 255 and sharpen slightly:
  the steps Fashion-MNIST itself was made with (trim, longest edge to 28,
  sharpen, centre, negate: Xiao et al. 2017).
* ``"tutorial"`` - the tutorial's steps as written: grey, invert when the mean
  is bright, autocontrast, longest side 20 px pasted on a black 28x28 canvas,
  without cropping, EXIF rotation or transparency handling.

No pipeline normalises: the classifier applies the model's own stored input
scaling (scaling.py), so training and inference cannot disagree.

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
from dataclasses import dataclass, field
from struct import error as struct_error
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError

PIPELINES = ("ours", "tutorial")
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
class Stage:
    name: str  # short title shown above the image
    image: Image.Image  # the image after this step (at most WORK_SIZE px on its longest side)
    caption: str = ""  # one sentence on what this step did


@dataclass
class Preprocessed:
    pixels: np.ndarray  # [28, 28] uint8, a light garment on black, as in Fashion-MNIST
    stages: list[Stage] = field(default_factory=list)
    pipeline: str = "ours"
    notes: list[str] = field(default_factory=list)  # things the user should know (e.g. "no garment found")


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


# ---------------------------------------------------------------------------------------------
# Reading and decoding
# ---------------------------------------------------------------------------------------------


def _read_bytes(src: bytes | str | os.PathLike | BinaryIO) -> bytes:
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif isinstance(src, (str, os.PathLike)):
        if os.path.isdir(src):
            raise ImageError(f"{os.fspath(src)} is a folder, not an image file.")
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
        raise ImageError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, the upload limit.")
    return data


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


def _reduce(img: Image.Image, size: int = WORK_SIZE) -> Image.Image:
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
    raw = _reduce(img.convert("L") if img.mode not in ("L",) else img)
    image = _to_8bit(img, steps)
    if max(image.size) > WORK_SIZE:
        image = _reduce(image)
        steps.append(f"Reduced to {image.size[0]}×{image.size[1]} px to work on.")
    method = _UPRIGHT.get(orientation)
    if method is not None:
        image = image.transpose(method)
        steps.append(f"Turned upright using its EXIF orientation ({orientation}).")
    return Decoded(image=image, raw=raw, format=title, size=stored, steps=steps)


def decode_image(src: bytes | str | os.PathLike | BinaryIO) -> Image.Image:
    """Decode to an 8-bit greyscale PIL image, upright, at most WORK_SIZE px. Raises ImageError if unusable."""
    return open_image(src).image.convert("L")


# ---------------------------------------------------------------------------------------------
# Our pipeline
# ---------------------------------------------------------------------------------------------


def _border_mask(h: int, w: int) -> np.ndarray:
    b = max(1, min(h, w) // 40)
    m = np.zeros((h, w), dtype=bool)
    m[:b, :] = m[-b:, :] = True
    m[:, :b] = m[:, -b:] = True
    return m


def estimate_background(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit a plane a + b*x + c*y to the border pixels, ignoring outliers (a garment touching the border).

    Returns (the background over the whole image, the noise level: the robust spread of the
    border around the plane). A plane follows even light, a gradient, or light falling off
    to one side; the border is almost always background in a product photo.
    """
    h, w = grey.shape
    ys, xs = np.nonzero(_border_mask(h, w))
    if len(xs) > 4000:  # a regular subsample is plenty for 3 numbers
        step = len(xs) // 4000 + 1
        ys, xs = ys[::step], xs[::step]
    v = grey[ys, xs]
    sx, sy = max(w - 1, 1), max(h - 1, 1)
    a = np.stack([np.ones_like(v), xs / sx, ys / sy], axis=1)
    # Start from the median (robust to a garment covering up to half the border), then
    # alternately fit the plane to the pixels close to it and re-select those pixels.
    coef = np.array([np.median(v), 0.0, 0.0])
    keep = np.ones(len(v), dtype=bool)
    for _ in range(5):
        res = v - a @ coef
        spread = 1.4826 * float(np.median(np.abs(res)))
        keep = np.abs(res) <= max(3.0 * spread, 3.0)
        if keep.sum() < 3:
            break
        coef = np.linalg.lstsq(a[keep], v[keep], rcond=None)[0]
    res = v - a @ coef
    noise = 1.4826 * float(np.median(np.abs(res[keep]))) if keep.any() else 0.0
    yy, xx = np.mgrid[0:h, 0:w]
    bg = coef[0] + coef[1] * (xx / sx) + coef[2] * (yy / sy)
    return bg, noise


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of values in [0, 255]: the split that best separates two groups."""
    hist, edges = np.histogram(values, bins=256, range=(0.0, 256.0))
    hist = hist.astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 0.0
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = total - w0
    m0 = np.cumsum(hist * centres)
    mt = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - total * m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0
    return float(edges[int(np.argmax(between)) + 1])


def _as_l(a: np.ndarray, hi: float | None = None) -> Image.Image:
    hi = float(a.max()) if hi is None else hi
    scaled = a * (255.0 / hi) if hi > 0 else np.zeros_like(a)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


MIN_CONTRAST = 12.0  # grey levels: a garment must differ from the background at least this much
CORE_FRACTION = 1.0  # the garment's core: above this fraction of Otsu's threshold
MARGIN = 0.03  # keep what lies within this fraction of the garment's size around its core
BOX_LEVEL = 1.0  # the box spans kept pixels above this fraction of Otsu's threshold
RESIZE_FILTER = Image.Resampling.LANCZOS
DESKEW_MAX = 10  # straighten a garment lying at up to this many degrees (0: off)
DESKEW_MIN = 2.0  # ...and at least this many (a smaller estimate is left alone)
DESKEW_SIZE = 64  # px: the longest side of the copy the edge and mirror estimates use
SHARPEN = 100  # percent of an unsharp mask (radius 1) on the 28x28: Fashion-MNIST sharpened after resizing


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Grow a boolean mask by r pixels (a square), with shifted maxima along each axis."""
    out = mask.copy()
    for axis in (0, 1):
        grown = out.copy()
        n = out.shape[axis]
        for k in range(1, min(r, n - 1) + 1):
            fwd = [slice(None)] * 2
            bwd = [slice(None)] * 2
            fwd[axis], bwd[axis] = slice(k, None), slice(None, -k)
            grown[tuple(fwd)] |= out[tuple(bwd)]
            grown[tuple(bwd)] |= out[tuple(fwd)]
        out = grown
    return out


def _box_angle(mask: np.ndarray) -> float:
    """The rotation within +-DESKEW_MAX (0.25-degree steps) that makes the mask's bounding box smallest."""
    ys, xs = np.nonzero(mask)
    step = max(1, len(xs) // 20000)
    x, y = xs[::step].astype(np.float64), ys[::step].astype(np.float64)
    angles = np.arange(-DESKEW_MAX, DESKEW_MAX + 0.01, 0.25)
    rad = np.deg2rad(angles)[:, None]
    area = np.empty(len(angles))
    # A few angles at a time: all 81 at once would hold ~100 MB of temporaries for a large garment
    # (40,000 points), memory a server thread keeps after the upload.
    for i in range(0, len(angles), 8):
        c, s = np.cos(rad[i : i + 8]), np.sin(rad[i : i + 8])
        xr = x[None, :] * c + y[None, :] * s  # the points as PIL's rotate(angle) moves them
        yr = -x[None, :] * s + y[None, :] * c
        area[i : i + 8] = (np.ptp(xr, axis=1) + 1) * (np.ptp(yr, axis=1) + 1)
    return float(angles[int(np.argmin(area))])


def _edge_angle(small: np.ndarray) -> float:
    """The rotation that turns the garment's edges, on the whole, to horizontal and vertical.

    Each gradient's direction counts modulo 90 degrees (as exp(4i*phi)), weighted by its strength:
    the sides of trousers, the hem of a dress and the sole of a shoe all vote for one angle.
    """
    gy, gx = np.gradient(small)
    z = (np.hypot(gx, gy) * np.exp(4j * np.arctan2(gy, gx))).sum()
    return float(np.rad2deg(np.angle(z) / 4))


def _mirror_angle(small: np.ndarray) -> float:
    """The rotation within +-DESKEW_MAX (0.5-degree steps) at which the garment is most left-right symmetric
    about a vertical line through its centre (correlation with its mirror image)."""
    im = Image.fromarray(small.astype(np.float32), "F")
    best, best_angle = -np.inf, 0.0
    for angle in np.arange(-DESKEW_MAX, DESKEW_MAX + 0.01, 0.5):
        r = np.asarray(im.rotate(float(angle), resample=Image.Resampling.BILINEAR, expand=True), dtype=np.float64)
        cols = r.sum(axis=0)
        if cols.sum() <= 0:
            continue
        xs = np.arange(r.shape[1])
        mirrored_x = 2.0 * float((cols * xs).sum() / cols.sum()) - xs
        x0 = np.floor(mirrored_x).astype(int)
        f = mirrored_x - x0
        ok = (x0 >= 0) & (x0 + 1 < r.shape[1])
        mirror = np.zeros_like(r)
        mirror[:, ok] = r[:, x0[ok]] * (1 - f[ok]) + r[:, x0[ok] + 1] * f[ok]
        score = float((r * mirror).sum() / np.sqrt((r * r).sum() * (mirror * mirror).sum() + 1e-12))
        if score > best:
            best, best_angle = score, float(angle)
    return best_angle


def _upright_angle(core: np.ndarray, garment: np.ndarray) -> float:
    """The rotation (degrees, anticlockwise as PIL's rotate) that stands the garment upright, or 0.

    Three estimates of how the garment lies, each turning with it: the angle at which its box is
    smallest, the angle that turns its edges to horizontal and vertical, and the angle at which it
    is most mirror-symmetric. Each fails on some garments (a dress flares, a shoe is not symmetric),
    rarely two on the same one, so their median is used. Below DESKEW_MIN degrees the garment is
    left as it is: product photos are usually upright, and a small turn costs less than a wrong one.
    """
    ys, xs = np.nonzero(core)
    if len(xs) < 20:
        return 0.0
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    pad = max(y1 - y0, x1 - x0) // 10 + 1
    h, w = garment.shape
    crop = garment[max(0, y0 - pad) : min(h, y1 + pad), max(0, x0 - pad) : min(w, x1 + pad)]
    # The shape, not JPEG blocks or noise: the edge and mirror estimates work on a 64 px copy (box average).
    scale = DESKEW_SIZE / max(crop.shape)
    small = Image.fromarray(crop.astype(np.float32), "F").resize(
        (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))), Image.Resampling.BOX
    )
    small = np.asarray(small, dtype=np.float64)
    if min(small.shape) < 3:  # a thin strip: no shape to judge by
        return 0.0
    angle = float(np.median([_box_angle(core), _edge_angle(small), _mirror_angle(small)]))
    if abs(angle) < DESKEW_MIN or abs(angle) > DESKEW_MAX:
        return 0.0
    return angle


def _enclosed(mask: np.ndarray) -> np.ndarray:
    """Pixels with mask pixels to their left, right, above and below: the garment's inside, holes included."""
    left = np.maximum.accumulate(mask, axis=1)
    right = np.maximum.accumulate(mask[:, ::-1], axis=1)[:, ::-1]
    up = np.maximum.accumulate(mask, axis=0)
    down = np.maximum.accumulate(mask[::-1], axis=0)[::-1]
    return left & right & up & down


def our_pipeline(src) -> Preprocessed:
    """Real photo -> Fashion-MNIST: background, difference, crop, longest side 28, centre. See the module doc."""
    dec = open_image(src)
    stages = [Stage("Decoded", dec.image, " ".join(dec.steps))]
    notes: list[str] = []
    grey_img = dec.image.convert("L")
    grey = np.asarray(grey_img, dtype=np.float64)
    if dec.image.mode != "L":
        stages.append(
            Stage("Greyscale", grey_img, "Converted to grey (0.299 R + 0.587 G + 0.114 B), as Fashion-MNIST.")
        )

    bg, noise = estimate_background(grey)
    bg_lo, bg_hi = float(bg.min()), float(bg.max())
    level = f"{bg_lo:.0f}" if bg_hi - bg_lo < 1 else f"{bg_lo:.0f} to {bg_hi:.0f}"
    stages.append(
        Stage(
            "Background",
            _as_l(np.clip(bg, 0, 255), 255.0),
            f"Estimated from the border pixels as a smooth plane (grey level {level}), so shadows "
            "and gradients are allowed for.",
        )
    )

    diff = grey - bg
    strength = np.abs(diff)
    fg = strength > max(_otsu(strength), 3.0 * noise, MIN_CONTRAST / 2)
    if strength.max() < MIN_CONTRAST or not fg.any():
        notes.append("No garment stands out from the background: the model sees an empty image.")
        canvas = Image.new("L", (28, 28), 0)
        stages.append(Stage("28×28", canvas, "Nothing differs from the background, so the 28×28 image is black."))
        return Preprocessed(np.zeros((28, 28), dtype=np.uint8), stages, "ours", notes)

    # Polarity: is the garment darker than its background (the usual photo) or lighter?
    # Then measure it relative to the local background (a shadow dims garment and background alike).
    darker = float(np.median(diff[fg])) < 0
    if darker:
        room = np.maximum(bg, 1.0)
        garment = np.clip(-diff / room, 0, 1) * 255.0
        polarity = (
            "The garment is darker than the background: its darkness relative to the background around "
            "it becomes brightness, a light garment on black as in Fashion-MNIST."
        )
    else:
        room = np.maximum(255.0 - bg, 1.0)
        garment = np.clip(diff / room, 0, 1) * 255.0
        polarity = "The garment is lighter than the background, so it is kept light on black."
    noise_rel = 255.0 * noise / float(np.mean(room))
    t = max(_otsu(garment), 3.0 * noise_rel, MIN_CONTRAST / 2)
    # Black point: the background's noise and faint shadows become black.
    floor = max(3.0 * noise_rel, 0.1 * t)
    garment = np.clip(garment - floor, 0, None)
    stages.append(Stage("Difference", _as_l(garment), polarity))

    # The garment: pixels clearly off the background (Otsu), without isolated specks; then
    # what is enclosed by it or within a thin margin of it. Everything else (a shadow beside
    # the garment, specks, dust) becomes black, like Fashion-MNIST's background.
    core = garment > CORE_FRACTION * max(t - floor, 0)
    if min(core.shape) >= 32:
        core_img = Image.fromarray(core.astype(np.uint8) * 255, "L")
        opened = core_img.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3))
        if opened.getbbox():
            core = np.asarray(opened) > 0
    angle = _upright_angle(core, garment) if DESKEW_MAX else 0.0
    if angle:
        garment = np.asarray(
            Image.fromarray(garment.astype(np.float32), "F").rotate(
                angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=0.0
            ),
            dtype=np.float64,
        )
        core = garment > CORE_FRACTION * max(t - floor, 0)
        stages.append(
            Stage(
                "Straightened",
                _reduce(_as_l(garment)),
                f"Turned {abs(angle):.1f}° {'anticlockwise' if angle > 0 else 'clockwise'}, as Fashion-MNIST garments "
                "stand upright: the median of three estimates of its tilt (its box is smallest, its edges run "
                "across and down, it is most mirror-symmetric).",
            )
        )
    ys, xs = np.nonzero(core)
    size = max(int(ys.max() - ys.min()), int(xs.max() - xs.min())) + 1
    keep = _dilate(core, round(MARGIN * size)) | _enclosed(core)
    garment = np.where(keep, garment, 0.0)
    box = Image.fromarray(((garment > BOX_LEVEL * t) & keep).astype(np.uint8) * 255, "L").getbbox()
    if box is None:
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    shown = _as_l(garment).convert("RGB")
    ImageDraw.Draw(shown).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), outline=(255, 60, 60))
    shown = _reduce(shown)
    stages.append(
        Stage(
            "Garment box",
            shown,
            f"Pixels at least {t / 255:.0%} off the background (Otsu's threshold) are the garment; what they "
            "enclose and a thin margin around them are kept, the rest (a shadow beside it, specks) is made "
            f"black. Its box is {box[2] - box[0]}×{box[3] - box[1]} px.",
        )
    )
    crop = garment[box[1] : box[3], box[0] : box[2]]
    stages.append(
        Stage("Cropped", _reduce(_as_l(crop)), "Cropped to the box: Fashion-MNIST garments fill their frame.")
    )

    # Longest side to 28 px (Lanczos on the float image, which averages when shrinking), centred.
    ch, cw = crop.shape
    scale = 28.0 / max(ch, cw)
    nw, nh = max(1, min(28, round(cw * scale))), max(1, min(28, round(ch * scale)))
    small = np.asarray(Image.fromarray(crop.astype(np.float32), "F").resize((nw, nh), RESIZE_FILTER), dtype=np.float64)
    small = np.clip(small, 0, None)
    canvas = np.zeros((28, 28))
    top, left = (29 - nh) // 2, (29 - nw) // 2  # an odd leftover pixel goes before, as in Fashion-MNIST
    canvas[top : top + nh, left : left + nw] = small
    # White point: the brightest part becomes 255, as in almost every Fashion-MNIST image.
    hi = float(np.percentile(small, 99.5)) if small.size > 1 else float(small.max())
    pixels = (
        np.clip(np.rint(canvas * (255.0 / hi)), 0, 255).astype(np.uint8) if hi > 0 else np.zeros((28, 28), np.uint8)
    )
    out = Image.fromarray(pixels, "L")
    if SHARPEN:
        sharp = out.filter(ImageFilter.UnsharpMask(radius=1, percent=SHARPEN, threshold=0))
        pixels = np.where(pixels > 0, np.asarray(sharp), 0).astype(np.uint8)  # the background stays black
        out = Image.fromarray(pixels, "L")
    stages.append(
        Stage(
            "28×28",
            out,
            f"Longest side resized to 28 px ({nw}×{nh}) and centred on a black 28×28 canvas; brightest part set "
            "to 255 and edges sharpened slightly, as Fashion-MNIST was made.",
        )
    )
    return Preprocessed(pixels, stages, "ours", notes)


# ---------------------------------------------------------------------------------------------
# The tutorial's pipeline
# ---------------------------------------------------------------------------------------------


def tutorial_pipeline(src) -> Preprocessed:
    """The tutorial's steps as written: grey, invert if bright, autocontrast, longest side 20 px on 28x28.

    Like the tutorial's `Image.open(path).convert('L')`, it ignores EXIF orientation and
    transparency. Its final normalisation (mean 0.2860, std 0.3530) is not done here: the
    classifier applies the model's own scaling (see bench/photo_variants.py for its effect).
    """
    dec = open_image(src)
    grey = dec.raw
    stages = [Stage("Greyscale", grey, "Converted to grey as stored (no EXIF rotation, transparency ignored).")]
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
    stages.append(Stage("28×28", canvas, "Longest side shrunk to 20 px and pasted on a black 28×28 canvas."))
    return Preprocessed(np.asarray(canvas, dtype=np.uint8).copy(), stages, "tutorial")


def preprocess_image(src, pipeline: str = "ours") -> Preprocessed:
    """Run a named pipeline ("ours" or "tutorial"). Raises ImageError for unusable input."""
    if pipeline == "ours":
        return our_pipeline(src)
    if pipeline == "tutorial":
        return tutorial_pipeline(src)
    raise ValueError(f"Unknown pipeline {pipeline!r}; choose one of {', '.join(PIPELINES)}.")
