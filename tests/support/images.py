"""Generated image files for the tests and the benchmarks: one module, no streamlit, no torch.

Encoders: ``encode(image, fmt, **save_kwargs)`` -> bytes; ``exif_jpeg(upright, orientation, quality)``
-> a JPEG stored turned, as a phone sensor writes it, with the EXIF tag that turns it upright.

Pictures (all deterministic; they share ``composite``, a colour laid over a background by opacity):
``garment(size=(w, h), ...)``  -> PIL RGB image of a flat dark T-shirt on a light background (no data needed)
``sneaker(angle)`` -> PIL RGB image of a dark sneaker (SNEAKER_OUTLINE) on light grey, standing on its sole or turned
``on_white(pixels, factor, angle)`` -> PNG bytes: a 28x28 image scaled up (nearest), dark on white, maybe turned
``turned(preprocessed)`` -> (angle, on its sole?): the turn the pipeline's "Straightened" step says it applied
``garment_photo(index, size, fmt, ...)`` -> (bytes, label): a real Fashion-MNIST test image as a centred,
                 dyed photo on an off-white gradient (browser tests, bench/bench_ui.py)
``render_photo(pixels, rng, ...)`` -> (RGB [H, W, 3], alpha [H, W]): a 28x28 image as a product photo with
                 random scale, margins, background, shadow, tint and noise (bench/photo_variants.py)
Hostile files: ``png_bomb(width, height, colour=None)`` (a tiny PNG of width x height pixels of one colour),
``png_with_header(...)`` (a small PNG whose IHDR says anything, even what PNG forbids), ``png_with_chunk(kind,
payload, count)``, ``jpeg_claiming(size)`` (a small JPEG whose header claims a larger size),
``broken_image_bytes()``; ``hostile_uploads()`` -> list[ImageCase]: the costliest refused cases and the largest
images each pixel limit lets through (bench/bench_hostile.py uploads them to a running server).

Upload cases, generated from Pillow and numpy alone (about a second; cached per process):

``ImageCase`` (frozen dataclass), one per case:
    name         identifier, e.g. "truncated_png" (unique; valid as a pytest id)
    filename     what the user's file is called, e.g. "shirt.png" (the extension may lie, on purpose)
    mime         the MIME type a browser would send for that filename, e.g. "image/png"
    data         the file's bytes
    expect       "prediction" (odd but valid: must give a Top-k) or "error" (must give a clear message)
    message      for errors: a fragment the user-facing message contains (exact, case-sensitive); else None
    description  the case in words
    over_upload_cap  True only for the file larger than the 20 MB upload cap (Streamlit's uploader refuses
                 it before the app sees it, so an AppTest may skip it)

``all_cases()``    -> list[ImageCase], errors first then valid images
``error_cases()``  -> list[ImageCase] with expect == "error"
``valid_cases()``  -> list[ImageCase] with expect == "prediction"
``case(name)``     -> ImageCase by name (KeyError if unknown)
``write_case_files(folder)`` -> {name: Path}: writes each case as ``<name>__<filename>`` into folder

Example (AppTest)::

    from tests.support.images import all_cases
    for c in all_cases():
        ...upload c.data as c.filename with type c.mime...
        if c.expect == "error": assert c.message in <the error shown>
        else: assert <a Top-3 is shown>
"""

from __future__ import annotations

import functools
import io
import math
import re
import struct
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

UPLOAD_CAP_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class ImageCase:
    name: str
    filename: str
    mime: str
    data: bytes
    expect: str  # "prediction" | "error"
    message: str | None
    description: str
    over_upload_cap: bool = False


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


def garment(
    size: tuple[int, int] = (240, 200),
    colour: tuple[int, int, int] = (30, 40, 90),
    background: tuple[int, int, int] = (245, 245, 245),
    box: tuple[float, float, float, float] = (0.2, 0.15, 0.8, 0.85),
) -> Image.Image:
    """A T-shirt silhouette (body and sleeves) in `colour` on `background`, inside `box` (fractions of w, h)."""
    w, h = size
    img = Image.new("RGB", size, background)
    x0, y0, x1, y1 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    bw, bh = x1 - x0, y1 - y0
    pts = [
        (x0 + 0.30 * bw, y0),
        (x0 + 0.70 * bw, y0),
        (x1, y0 + 0.25 * bh),
        (x0 + 0.85 * bw, y0 + 0.40 * bh),
        (x0 + 0.78 * bw, y0 + 0.32 * bh),
        (x0 + 0.78 * bw, y1),
        (x0 + 0.22 * bw, y1),
        (x0 + 0.22 * bw, y0 + 0.32 * bh),
        (x0 + 0.15 * bw, y0 + 0.40 * bh),
        (x0, y0 + 0.25 * bh),
    ]
    ImageDraw.Draw(img).polygon(pts, fill=colour)
    return img


# A sneaker pointing left, as Fashion-MNIST's: a flat sole, the toe low on the left, the heel high on the right.
SNEAKER_OUTLINE = [
    (40, 200),
    (260, 200),
    (262, 150),
    (240, 95),
    (200, 95),
    (190, 130),
    (120, 140),
    (60, 160),
    (38, 182),
]


def sneaker(angle: float = 0.0) -> Image.Image:
    """A dark sneaker pointing left on light grey, standing on its sole as a product photo has it, turned by
    angle (PIL: anticlockwise; a drawn shoe leaning toe up is turned clockwise, i.e. negative)."""
    img = Image.new("RGB", (300, 300), (235, 235, 235))
    ImageDraw.Draw(img).polygon(SNEAKER_OUTLINE, fill=(30, 30, 40))
    return img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(235, 235, 235)) if angle else img


def on_white(pixels: np.ndarray, factor: int = 10, angle: float = 0.0) -> bytes:
    """A 28x28 uint8 image scaled `factor` times (nearest), dark garment on white, turned by angle (PIL:
    anticlockwise), as a PNG: a product photo of the garment as Fashion-MNIST has it."""
    img = Image.fromarray(np.repeat(np.repeat(255 - pixels, factor, axis=0), factor, axis=1).astype(np.uint8), "L")
    if angle:
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    return encode(img, "PNG")


def turned(preprocessed) -> tuple[float, bool]:
    """(the angle preprocess's "Straightened" step says it turned the garment, anticlockwise positive, 0 when
    there is no such step; whether it laid it on its sole), read from the step's caption."""
    for st in preprocessed.stages:
        if st.name == "Straightened":
            m = re.match(r"Turned ([0-9.]+)° (anticlockwise|clockwise)", st.caption)
            assert m, st.caption
            angle = float(m.group(1)) * (1 if m.group(2) == "anticlockwise" else -1)
            return angle, "on its sole" in st.caption
    return 0.0, False


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def exif_jpeg(upright: Image.Image, orientation: int, quality: int, make: str | None = None) -> bytes:
    """A phone-style JPEG: pixels stored turned (as the sensor saw them), EXIF orientation set to make it upright."""
    # Stored = the upright image turned the opposite way of what exif_transpose will do.
    undo = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    if make is not None:
        exif[0x010F] = make
    return encode(upright.transpose(undo), "JPEG", quality=quality, exif=exif)


def composite(background: np.ndarray, colour, opacity: np.ndarray) -> np.ndarray:
    """`colour` ([3] or [h, w, 3]) laid over `background` ([h, w, 3] float) with `opacity` ([h, w], 0..1)."""
    return background * (1 - opacity[:, :, None]) + colour * opacity[:, :, None]


# ---------------------------------------------------------------------------------------------
# Photos of real Fashion-MNIST test images
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _fmnist():
    from fmnist_lib import load_fashion_mnist

    return load_fashion_mnist(download=False)


def _fmnist_test_image(index: int):
    """One Fashion-MNIST test image (28x28 uint8 numpy) and its label, from the real data."""
    data = _fmnist()
    return data.test_images[index].numpy(), int(data.test_labels[index])


def garment_photo(
    index: int = 0,
    size: tuple[int, int] = (900, 1200),
    fmt: str = "JPEG",
    colour: tuple[int, int, int] = (40, 60, 110),
    quality: int = 90,
) -> tuple[bytes, int]:
    """A photo-like picture of a garment: a Fashion-MNIST test image rendered large, dyed, on a
    slightly uneven white background with some noise, saved as JPEG or PNG.

    Returns the file's bytes and the true class index of the garment.
    """
    pixels, label = _fmnist_test_image(index)
    w, h = size
    side = int(min(w, h) * 0.8)
    # The garment's shape (alpha) and shading from its pixels, smoothly upscaled.
    mask = Image.fromarray(pixels).resize((side, side), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    m = np.asarray(mask, dtype=np.float32) / 255.0
    rng = np.random.default_rng(index)
    # Background: off-white with a soft vertical gradient (a photo, not a flat render).
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    bg = np.empty((h, w, 3), dtype=np.float32)
    for c, base in enumerate((246, 244, 240)):
        bg[..., c] = base - 14 * yy
    # The garment: dyed, darker where the original is darker (folds), on the canvas centre.
    shade = 0.55 + 0.45 * m
    dyed = np.stack([colour[c] * (2.0 - shade) for c in range(3)], axis=-1)
    alpha = np.clip(m * 1.6, 0, 1)
    top, left = (h - side) // 2, (w - side) // 2
    bg[top : top + side, left : left + side] = composite(bg[top : top + side, left : left + side], dyed, alpha)
    bg += rng.normal(0, 3.0, bg.shape).astype(np.float32)
    img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8), "RGB")
    if fmt.upper() == "JPEG":
        return encode(img, "JPEG", quality=quality), label
    return encode(img, fmt.upper()), label


# Garment colours: dark to mid tones (luminance <= ~120) like most clothes in product photos.
TINTS = [
    (20, 20, 20),
    (30, 40, 90),
    (60, 90, 140),
    (120, 30, 35),
    (40, 80, 45),
    (95, 65, 40),
    (110, 110, 110),
    (150, 60, 110),
    (70, 70, 80),
]


def _background(rng: np.random.Generator, h: int, w: int, kind: str) -> np.ndarray:
    """[h, w, 3] float background: white, grey, or a linear gradient in a random direction."""
    if kind == "white":
        level = rng.uniform(235, 255)
        return np.full((h, w, 3), level)
    if kind == "grey":
        level = rng.uniform(165, 215)
        tint = rng.uniform(-8, 8, size=3)
        return np.full((h, w, 3), level) + tint
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    t = (np.cos(angle) * xx / w + np.sin(angle) * yy / h) * 0.5 + 0.5  # ~0..1 across the image
    lo, hi = rng.uniform(150, 195), rng.uniform(225, 255)
    g = lo + (hi - lo) * t
    return np.repeat(g[:, :, None], 3, axis=2)


def render_photo(
    pixels: np.ndarray,
    rng: np.random.Generator,
    *,
    background: str = "white",
    angle: float = 0.0,
    shadow: bool = True,
    scale_range: tuple[float, float] = (6.0, 15.0),
    margin_range: tuple[float, float] = (0.08, 0.6),
    noise_range: tuple[float, float] = (1.0, 4.0),
) -> tuple[np.ndarray, np.ndarray]:
    """A 28x28 uint8 Fashion-MNIST image as a photo: (RGB uint8 [H, W, 3], alpha uint8 [H, W] of the garment).

    The Fashion-MNIST intensity v (0 background, 1 darkest) is the garment's opacity over the
    background, with its colour a random dark-to-mid tint: on white with a black tint this is
    exactly the inverse of how Fashion-MNIST was made from product photos.
    """
    scale = rng.uniform(*scale_range)
    size = max(8, round(28 * scale))
    v = Image.fromarray(pixels.astype(np.float32) / 255.0, "F").resize((size, size), Image.Resampling.BICUBIC)
    if angle:
        v = v.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=0.0)
    va = np.clip(np.asarray(v, dtype=np.float64), 0, 1)
    gh, gw = va.shape
    ml, mr, mt, mb = (rng.uniform(*margin_range) * max(gh, gw) for _ in range(4))
    w, h = round(gw + ml + mr), round(gh + mt + mb)
    x0, y0 = round(ml), round(mt)
    opacity = np.zeros((h, w))
    opacity[y0 : y0 + gh, x0 : x0 + gw] = va
    bg = _background(rng, h, w, background)
    if shadow:
        strength = rng.uniform(0.08, 0.25)
        mask = Image.fromarray(((opacity > 0.05) * 255).astype(np.uint8), "L")
        blur = mask.filter(ImageFilter.GaussianBlur(radius=max(2.0, 0.04 * max(gh, gw))))
        dx, dy = (round(rng.uniform(0.01, 0.04) * max(gh, gw)) for _ in range(2))
        sh = np.asarray(blur, dtype=np.float64) / 255.0
        sh = np.roll(np.roll(sh, dy, axis=0), dx, axis=1)
        bg = bg * (1 - strength * sh)[:, :, None]
    tint = np.array(TINTS[rng.integers(len(TINTS))], dtype=np.float64) + rng.uniform(-10, 10, size=3)
    photo = composite(bg, tint, opacity)
    photo += rng.normal(0, rng.uniform(*noise_range), size=photo.shape)  # camera noise
    alpha = np.clip(opacity * 4.0, 0, 1)  # the garment's cut-out (soft edge) for transparent PNGs
    return np.clip(np.rint(photo), 0, 255).astype(np.uint8), np.rint(alpha * 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Hostile files
# ---------------------------------------------------------------------------------------------


def broken_image_bytes() -> bytes:
    """A file named like a JPEG whose content is a cut-off JPEG header followed by junk."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"this is not really an image" * 20


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int, height: int, colour: tuple[int, int, int] | None = None) -> bytes:
    """A valid 8-bit PNG of width x height pixels, black greyscale or one RGB colour: ~390 KB for 400 MP
    of grey, ~160 KB for 7000x7000 of colour, made in ~0.1 s.

    Blocks of identical rows are deflated once after a full flush (so the compressed block
    repeats byte for byte), and the zlib header and Adler-32 checksum are written by hand.
    """
    row = b"\x00" + (b"\x00" if colour is None else bytes(colour)) * width  # filter byte + pixels
    rows_per_block = max(1, (1 << 20) // len(row))
    while height % rows_per_block:
        rows_per_block -= 1
    block = row * rows_per_block
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate
    first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    blocks = height // rows_per_block
    body = first + again * (blocks - 1) if blocks > 1 else first
    body += comp.flush()  # the final (empty) block
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(block, adler)
    idat = b"\x78\xda" + body + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0 if colour is None else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_with_header(
    width: int = 10, height: int = 10, bit_depth: int = 8, colour_type: int = 0, bad_crc: bool = False
) -> bytes:
    """A small PNG whose IHDR says whatever it is given (even what PNG forbids), optionally with a wrong
    checksum, followed by 10 rows of mid-grey image data."""
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    if bad_crc:
        ihdr = ihdr[:-4] + bytes(b ^ 0xFF for b in ihdr[-4:])
    idat = zlib.compress((b"\x00" + b"\x80" * 10) * 10)
    return b"\x89PNG\r\n\x1a\n" + ihdr + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_with_chunk(kind: bytes, payload: bytes, count: int = 1) -> bytes:
    """A 10x10 grey PNG with `count` copies of a chunk (a text chunk, say) before its image data."""
    png = png_with_header()
    return png[:33] + _png_chunk(kind, payload) * count + png[33:]


def jpeg_claiming(size: tuple[int, int] = (7000, 7000)) -> bytes:
    """A 240x200 garment JPEG whose frame header (SOF0) is rewritten to claim `size`: the scan data is
    a fraction of what the header promises, and libjpeg would fill the rest with grey without an error."""
    data = encode(garment(), "JPEG", quality=90)
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", size[1], size[0]) + data[sof + 9 :]


def _phone_jpeg(size=(4000, 3000), orientation: int = 6) -> bytes:
    """A 12 MP photo stored sideways as a phone sensor writes it, with the EXIF orientation that makes it upright."""
    upright = garment(size, colour=(120, 30, 35), background=(232, 228, 220))
    return exif_jpeg(upright, orientation, quality=85)


def _animated_gif() -> bytes:
    first = garment((120, 120)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    second = Image.new("RGB", (120, 120), (0, 0, 0)).convert("P")
    return encode(first, "GIF", save_all=True, append_images=[second], duration=200, loop=0)


def _sixteen_bit_png(size: tuple[int, int] = (160, 160)) -> bytes:
    grey8 = np.asarray(garment(size).convert("L"), dtype=np.uint16)
    return encode(Image.fromarray(grey8 * 257), "PNG")  # a true 16-bit greyscale PNG (mode I;16)


def _cutout(size: tuple[int, int] = (200, 200)) -> Image.Image:
    """A garment on a fully transparent background (RGBA)."""
    g = garment(size)
    mask = np.asarray(g.convert("L")) < 128
    alpha = Image.fromarray((mask * 255).astype(np.uint8), "L")
    rgba = Image.new("RGBA", g.size, (0, 0, 0, 0))  # black under full transparency, as many editors store it
    rgba.paste(g, mask=alpha)
    return rgba


def _rgba_png() -> bytes:
    return encode(_cutout(), "PNG")


# ---------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------


@cache
def error_cases() -> list[ImageCase]:
    png = encode(garment(), "PNG")
    jpeg = encode(garment(), "JPEG", quality=90)
    rng = np.random.default_rng(0)
    return [
        ImageCase("empty", "empty.png", "image/png", b"", "error", "The file is empty.", "a 0-byte file"),
        ImageCase(
            "text_as_png",
            "notes.png",
            "image/png",
            b"Shopping list:\n- T-shirt\n- trousers\n" * 20,
            "error",
            "contains text, not an image",
            "a text file renamed to .png",
        ),
        ImageCase(
            "html_as_jpg",
            "photo.jpg",
            "image/jpeg",
            b"<!DOCTYPE html>\n<html><head><title>Shop</title></head><body><img src='shirt.jpg'></body></html>\n",
            "error",
            "web page (HTML)",
            "an HTML page saved as .jpg",
        ),
        ImageCase(
            "svg",
            "shirt.svg",
            "image/svg+xml",
            b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" '
            b'height="100"><rect x="20" y="20" width="60" height="60" fill="navy"/></svg>\n',
            "error",
            "SVG (vector) image",
            "an SVG drawing",
        ),
        ImageCase(
            "svg_as_png",
            "shirt.png",
            "image/png",
            b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4"/></svg>',
            "error",
            "SVG (vector) image",
            "an SVG renamed to .png",
        ),
        ImageCase(
            "truncated_png",
            "shirt.png",
            "image/png",
            png[: len(png) // 2],
            "error",
            "This PNG is truncated",
            "a PNG cut in half",
        ),
        ImageCase(
            "truncated_jpeg",
            "shirt.jpg",
            "image/jpeg",
            jpeg[: len(jpeg) // 2],
            "error",
            "This JPEG is truncated",
            "a JPEG cut in half",
        ),
        ImageCase(
            "png_header_only",
            "shirt.png",
            "image/png",
            png[:40],
            "error",
            "This PNG is truncated",
            "only the first 40 bytes of a PNG",
        ),
        ImageCase(
            "bomb_png_400mp",
            "huge.png",
            "image/png",
            png_bomb(20_000, 20_000),
            "error",
            "20000×20000 pixels (400 megapixels)",
            "a decompression bomb: 20000x20000 PNG of ~400 KB",
        ),
        ImageCase(
            "bomb_png_60mp",
            "big.png",
            "image/png",
            png_bomb(10_000, 6_000),
            "error",
            "10000×6000 pixels (60 megapixels)",
            "a 60 MP PNG (above the app's limits, below Pillow's own)",
        ),
        ImageCase(
            "pdf_as_png",
            "catalogue.png",
            "image/png",
            b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
            "error",
            "PDF document",
            "a PDF renamed to .png",
        ),
        ImageCase(
            "tiff",
            "scan.tiff",
            "image/tiff",
            encode(garment((64, 64)), "TIFF"),
            "error",
            "TIFF",
            "a TIFF image (not an accepted format)",
        ),
        ImageCase(
            "random_bytes",
            "photo.jpg",
            "image/jpeg",
            rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes(),
            "error",
            "not an image this app can read",
            "4 KB of random bytes named .jpg",
        ),
        ImageCase(
            "png_bad_ihdr_checksum",
            "shirt.png",
            "image/png",
            png_with_header(bad_crc=True),
            "error",
            "its header chunk (IHDR) fails its checksum",
            "a PNG whose header chunk's checksum is wrong",
        ),
        ImageCase(
            "png_width_0",
            "shirt.png",
            "image/png",
            png_with_header(width=0),
            "error",
            "This PNG has no pixels: its header says 0×10.",
            "a PNG whose header says it is 0 pixels wide",
        ),
        ImageCase(
            "png_bit_depth_3",
            "shirt.png",
            "image/png",
            png_with_header(bit_depth=3),
            "error",
            "3 bits per sample for a greyscale image",
            "a PNG whose header gives a bit depth PNG does not have",
        ),
        ImageCase(
            "png_huge_text_chunk",
            "shirt.png",
            "image/png",
            png_with_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b" " * (2 << 20), 9)),
            "error",
            "a metadata chunk (text or a colour profile) that unpacks to more than 1 MB",
            "a PNG with a 2 KB text chunk that unpacks to 2 MB (above Pillow's MAX_TEXT_CHUNK)",
        ),
        ImageCase(
            "png_too_much_text",
            "shirt.png",
            "image/png",
            png_with_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b" " * 1_000_000, 9), count=70),
            "error",
            "more than 64 MB of text metadata",
            "a PNG with 70 text chunks of 1 MB each, unpacked (above Pillow's MAX_TEXT_MEMORY)",
        ),
        ImageCase(
            "jpeg_header_claims_7000",
            "photo.jpg",
            "image/jpeg",
            jpeg_claiming((7000, 7000)),
            "error",
            "This JPEG is damaged: its header says 7000×7000 pixels",
            "a 240×200 JPEG whose header claims 7000×7000 (libjpeg would fill the rest with grey)",
        ),
        ImageCase(
            "png_1_by_50m",
            "strip.png",
            "image/png",
            png_bomb(1, 50_000_000),
            "error",
            "the limit is 100:1",
            "a 97 KB PNG of 1×50,000,000 pixels (12 s and 1.4 GB in the CLI before it was refused)",
        ),
        ImageCase(
            "png_7000_one_colour",
            "red.png",
            "image/png",
            png_bomb(7000, 7000, colour=(200, 50, 50)),
            "error",
            "7000×7000 pixels (49 megapixels); a PNG is decoded whole, so its limit is 16 megapixels",
            "a 160 KB single-colour RGB PNG of 7000×7000 (49 MP, under the JPEG limit; ~900 MB in the CLI before)",
        ),
        ImageCase(
            "webp_10mp",
            "red.webp",
            "image/webp",
            encode(Image.new("RGB", (4000, 2500), (200, 50, 50)), "WEBP", lossless=True),
            "error",
            "4000×2500 pixels (10 megapixels); a WebP is decoded whole, so its limit is 8 megapixels",
            "a 452-byte lossless WebP of 10 MP (libwebp's buffer and Pillow's: twice its pixels in memory)",
        ),
        ImageCase(
            "progressive_jpeg_20mp",
            "grey.jpg",
            "image/jpeg",
            encode(Image.new("L", (5000, 4000), 200), "JPEG", quality=75, progressive=True),
            "error",
            "a progressive JPEG is decoded whole, so its limit is 16 megapixels",
            "a 78 KB progressive JPEG of 20 MP (libjpeg keeps every coefficient of a progressive JPEG)",
        ),
        ImageCase(
            "over_upload_cap",
            "huge.jpg",
            "image/jpeg",
            jpeg[:-2] + b"\x00" * (UPLOAD_CAP_BYTES + 1 - len(jpeg)) + b"\xff\xd9",
            "error",
            "larger than 20 MB",
            "a 20 MB + 1 byte file",
            over_upload_cap=True,
        ),
    ]


@cache
def valid_cases() -> list[ImageCase]:
    white = Image.new("RGB", (64, 64), (255, 255, 255))
    black = Image.new("L", (64, 64), 0)
    strip = garment((1000, 10), box=(0.1, 0.1, 0.9, 0.9))
    palette = garment((150, 150)).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    cmyk = garment((180, 150)).convert("CMYK")
    bw = garment((100, 100)).convert("1")
    la = garment((100, 100)).convert("LA")
    return [
        ImageCase(
            "one_pixel",
            "dot.png",
            "image/png",
            encode(Image.new("L", (1, 1), 90), "PNG"),
            "prediction",
            None,
            "a 1×1 PNG",
        ),
        ImageCase(
            "all_white", "white.jpg", "image/jpeg", encode(white, "JPEG"), "prediction", None, "an all-white JPEG"
        ),
        ImageCase("all_black", "black.png", "image/png", encode(black, "PNG"), "prediction", None, "an all-black PNG"),
        ImageCase(
            "rgba_png",
            "cutout.png",
            "image/png",
            _rgba_png(),
            "prediction",
            None,
            "a garment on a transparent background",
        ),
        ImageCase("la_png", "grey_alpha.png", "image/png", encode(la, "PNG"), "prediction", None, "a grey + alpha PNG"),
        ImageCase(
            "bilevel_png", "bw.png", "image/png", encode(bw, "PNG"), "prediction", None, "a 1-bit black-and-white PNG"
        ),
        ImageCase(
            "palette_gif",
            "shirt.gif",
            "image/gif",
            encode(palette, "GIF"),
            "prediction",
            None,
            "an 8-colour palette GIF",
        ),
        ImageCase(
            "animated_gif", "anim.gif", "image/gif", _animated_gif(), "prediction", None, "a 2-frame animated GIF"
        ),
        ImageCase(
            "png_16bit", "deep.png", "image/png", _sixteen_bit_png(), "prediction", None, "a 16-bit greyscale PNG"
        ),
        ImageCase(
            "cmyk_jpeg", "print.jpg", "image/jpeg", encode(cmyk, "JPEG", quality=90), "prediction", None, "a CMYK JPEG"
        ),
        ImageCase(
            "webp", "shirt.webp", "image/webp", encode(garment(), "WEBP", quality=80), "prediction", None, "a WebP"
        ),
        ImageCase("bmp", "shirt.bmp", "image/bmp", encode(garment(), "BMP"), "prediction", None, "a BMP"),
        ImageCase(
            "strip_100_to_1",
            "strip.png",
            "image/png",
            encode(strip, "PNG"),
            "prediction",
            None,
            "a 1000×10 strip (100:1)",
        ),
        ImageCase(
            "phone_jpeg_12mp",
            "IMG_0001.jpg",
            "image/jpeg",
            _phone_jpeg(),
            "prediction",
            None,
            "a 12 MP (4000×3000) phone JPEG stored sideways with EXIF orientation 6",
        ),
        ImageCase(
            "jpeg_named_png",
            "shirt.png",
            "image/png",
            encode(garment(), "JPEG", quality=85),
            "prediction",
            None,
            "a JPEG whose name says .png (read by content, not by name)",
        ),
    ]


@cache
def hostile_uploads() -> list[ImageCase]:
    """What bench/bench_hostile.py uploads: the refused cases that cost the most to look at (the two that
    took 1.4 GB and ~900 MB before they were refused, bombs, lying headers, 70 MB of text metadata), then the
    largest image each pixel limit still lets through (16 MP PNG, GIF and progressive JPEG, 8 MP WebP, 50 MP
    JPEG, a 93:1 JPEG), all of them garments, and a 12 MP phone photo for reference. A few seconds to make."""
    refused = [
        case(name)
        for name in (
            "png_1_by_50m",
            "png_7000_one_colour",
            "bomb_png_400mp",
            "bomb_png_60mp",
            "jpeg_header_claims_7000",
            "truncated_jpeg",
            "png_too_much_text",
            "webp_10mp",
            "progressive_jpeg_20mp",
        )
    ]
    big = (4000, 4000)
    allowed = [
        (
            "png_rgba_16mp",
            "cutout.png",
            "image/png",
            encode(_cutout(big), "PNG"),
            "a 4000×4000 RGBA PNG, a garment on transparency (16 MP, the PNG limit)",
        ),
        ("png_16bit_16mp", "deep.png", "image/png", _sixteen_bit_png(big), "a 4000×4000 16-bit greyscale PNG"),
        (
            "gif_16mp",
            "shirt.gif",
            "image/gif",
            encode(garment(big).convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "GIF"),
            "a 4000×4000 GIF of 16 colours",
        ),
        (
            "webp_rgba_8mp",
            "cutout.webp",
            "image/webp",
            encode(_cutout((2800, 2800)), "WEBP", lossless=True),
            "a 2800×2800 lossless RGBA WebP (7.8 MP; the WebP limit is 8)",
        ),
        (
            "progressive_cmyk_jpeg_16mp",
            "print.jpg",
            "image/jpeg",
            encode(garment(big).convert("CMYK"), "JPEG", quality=90, progressive=True),
            "a 4000×4000 progressive CMYK JPEG (libjpeg keeps all its coefficients)",
        ),
        (
            "jpeg_50mp",
            "big.jpg",
            "image/jpeg",
            encode(garment((8600, 5800)), "JPEG", quality=85),
            "an 8600×5800 JPEG (50 MP, the JPEG limit; decoded at 1/8 scale)",
        ),
        (
            "jpeg_65000x700",
            "long.jpg",
            "image/jpeg",
            encode(garment((65000, 700), box=(0.45, 0.1, 0.55, 0.9)), "JPEG", quality=85),
            "a 65000×700 JPEG (93:1; decoded at 1/8 scale)",
        ),
    ]
    return (
        refused
        + [ImageCase(n, f, m, d, "prediction", None, w) for n, f, m, d, w in allowed]
        + [case("phone_jpeg_12mp")]
    )


def all_cases() -> list[ImageCase]:
    return error_cases() + valid_cases()


def case(name: str) -> ImageCase:
    for c in all_cases():
        if c.name == name:
            return c
    raise KeyError(name)


def write_case_files(folder: str | Path) -> dict[str, Path]:
    """Write every case into folder as '<name>__<filename>'; returns {name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for c in all_cases():
        p = folder / f"{c.name}__{c.filename}"
        p.write_bytes(c.data)
        paths[c.name] = p
    return paths
