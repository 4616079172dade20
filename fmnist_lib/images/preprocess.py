"""Turn an uploaded image into a Fashion-MNIST-style 28x28 uint8 image, step by step.

Two pipelines, both returning `Preprocessed` (uint8 [28, 28] pixels, a light
garment on black, plus every intermediate `Stage` for the Upload page):

* ``"ours"`` - for real photos: decode safely and upright, grey; estimate the
  (possibly uneven) background as a plane fitted to the border pixels; measure
  each pixel's difference to it relative to the local background (the sign
  decides the polarity, so the garment comes out light on black either way);
  fill an outline drawing's inside (thin strokes around empty paper: outline.py);
  keep the garment (Otsu's threshold, what it encloses and a thin margin) and
  blacken the rest (shadow, specks); stand it upright when it lies 2-10 degrees
  off (the median of three tilt estimates: smallest box, edges along the axes,
  mirror symmetry), or a shoe on its sole when it leans 25-45 degrees (the
  longest lower edge of its outline, flat); crop to it, resize its longest side to 28 px
  and centre it on 28x28, set the brightest part to 255 and sharpen slightly:
  the steps Fashion-MNIST itself was made with (trim, longest edge to 28,
  sharpen, centre, negate: Xiao et al. 2017).
* ``"tutorial"`` - the tutorial's steps as written: grey, invert when the mean
  is bright, autocontrast, longest side 20 px pasted on a black 28x28 canvas,
  without cropping, EXIF rotation or transparency handling.

No pipeline normalises: the classifier applies the model's own stored input
scaling (scaling.py), so training and inference cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps, ImageStat

from .decode import Decoded, open_image, reduce_image
from .deskew import upright_angle
from .outline import dilate, fill, outline_interior

PIPELINES = ("ours", "tutorial")  # the names preprocess_image accepts
MIN_CONTRAST = 12.0  # grey levels: a garment must differ from the background at least this much
CORE_FRACTION = 1.0  # the garment's core: above this fraction of Otsu's threshold
MARGIN = 0.03  # keep what lies within this fraction of the garment's size around its core
BOX_LEVEL = 1.0  # the box spans kept pixels above this fraction of Otsu's threshold
RESIZE_FILTER = Image.Resampling.LANCZOS  # averages when shrinking, so thin stripes become grey, not gaps
SHARPEN = 100  # percent of an unsharp mask (radius 1) on the 28x28: Fashion-MNIST sharpened after resizing


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


def _enclosed(mask: np.ndarray) -> np.ndarray:
    """Pixels with mask pixels to their left, right, above and below: the garment's inside, holes included."""
    left = np.maximum.accumulate(mask, axis=1)
    right = np.maximum.accumulate(mask[:, ::-1], axis=1)[:, ::-1]
    up = np.maximum.accumulate(mask, axis=0)
    down = np.maximum.accumulate(mask[::-1], axis=0)[::-1]
    return left & right & up & down


@dataclass
class _Garment:
    """The garment measured against its background, light on black: float64 [H, W] in 0-255."""

    pixels: np.ndarray
    threshold: float  # Otsu's threshold on the difference, before the black point
    floor: float  # the black point subtracted from every pixel


def _grey(dec: Decoded, stages: list[Stage]) -> np.ndarray:
    """The decoded image as grey levels, float64 [H, W]."""
    grey_img = dec.image.convert("L")
    if dec.image.mode != "L":
        stages.append(
            Stage("Greyscale", grey_img, "Converted to grey (0.299 R + 0.587 G + 0.114 B), as Fashion-MNIST.")
        )
    return np.asarray(grey_img, dtype=np.float64)


def _background(grey: np.ndarray, stages: list[Stage]) -> tuple[np.ndarray, float]:
    """The background plane float64 [H, W] and the noise level, shown as a stage."""
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
    return bg, noise


def _stands_out(diff: np.ndarray, noise: float) -> np.ndarray | None:
    """The pixels clearly off the background (bool [H, W]), or None when nothing stands out."""
    strength = np.abs(diff)
    fg = strength > max(_otsu(strength), 3.0 * noise, MIN_CONTRAST / 2)
    if strength.max() < MIN_CONTRAST or not fg.any():
        return None
    return fg


def _darkness(diff: np.ndarray, bg: np.ndarray, fg: np.ndarray, noise: float, stages: list[Stage]) -> _Garment:
    """The garment's difference to the background relative to it, light on black whichever its polarity."""
    # Relative to the local background: a shadow dims garment and background alike.
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
    return _Garment(garment, t, floor)


def _core(g: _Garment) -> np.ndarray:
    """The garment's core: pixels clearly off the background (Otsu), without isolated specks. bool [H, W]."""
    core = g.pixels > CORE_FRACTION * max(g.threshold - g.floor, 0)
    if min(core.shape) >= 32:
        core_img = Image.fromarray(core.astype(np.uint8) * 255, "L")
        opened = core_img.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3))
        if opened.getbbox():
            core = np.asarray(opened) > 0
    return core


def _fill_outline(g: _Garment, stages: list[Stage]) -> _Garment:
    """An outline drawing (thin strokes around empty paper) with its inside filled (outline.py); else g."""
    strokes = g.pixels > CORE_FRACTION * max(g.threshold - g.floor, 0)
    found = outline_interior(g.pixels, strokes)
    if found is None:
        return g
    pixels = fill(g.pixels, found)
    stages.append(
        Stage(
            "Filled outline",
            reduce_image(_as_l(pixels)),
            f"A drawing of thin strokes (about {found.stroke_width:.0f} px) around empty paper: what they enclose "
            "is filled, as every Fashion-MNIST garment is a solid shape (a hollow ring reads as a bag); openings "
            "that reach the outside, and holes behind a second stroke, stay open.",
        )
    )
    return _Garment(pixels, g.threshold, g.floor)


def _straighten(
    g: _Garment, core: np.ndarray, stages: list[Stage], lay_on_sole: bool = True
) -> tuple[_Garment, np.ndarray]:
    """Stand the garment upright when it lies a few degrees off, or a leaning shoe on its sole.

    Returns the garment and its core, turned.
    """
    turn = upright_angle(core, g.pixels, lay_on_sole)
    angle = turn.angle
    if not angle:
        return g, core
    pixels = np.asarray(
        Image.fromarray(g.pixels.astype(np.float32), "F").rotate(
            angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=0.0
        ),
        dtype=np.float64,
    )
    g = _Garment(pixels, g.threshold, g.floor)
    core = pixels > CORE_FRACTION * max(g.threshold - g.floor, 0)
    turned = f"Turned {abs(angle):.1f}° {'anticlockwise' if angle > 0 else 'clockwise'}"
    why = (
        "to lay it on its sole, as Fashion-MNIST's shoes stand: the longest lower edge of its outline is now flat."
        if turn.on_sole
        else "as Fashion-MNIST garments stand upright: the median of three estimates of its tilt (its box is "
        "smallest, its edges run across and down, it is most mirror-symmetric)."
    )
    stages.append(Stage("Straightened", reduce_image(_as_l(pixels)), f"{turned}, {why}"))
    return g, core


def _keep_garment(g: _Garment, core: np.ndarray, stages: list[Stage]) -> np.ndarray:
    """Blacken all but the core, what it encloses and a thin margin; crop to the box. float64 [h, w]."""
    # Everything else (a shadow beside the garment, specks, dust) becomes black, like Fashion-MNIST's background.
    t = g.threshold
    ys, xs = np.nonzero(core)
    size = max(int(ys.max() - ys.min()), int(xs.max() - xs.min())) + 1
    keep = dilate(core, round(MARGIN * size)) | _enclosed(core)
    garment = np.where(keep, g.pixels, 0.0)
    box = Image.fromarray(((garment > BOX_LEVEL * t) & keep).astype(np.uint8) * 255, "L").getbbox()
    if box is None:
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    shown = _as_l(garment).convert("RGB")
    ImageDraw.Draw(shown).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), outline=(255, 60, 60))
    shown = reduce_image(shown)
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
        Stage("Cropped", reduce_image(_as_l(crop)), "Cropped to the box: Fashion-MNIST garments fill their frame.")
    )
    return crop


def _to_28(crop: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Longest side to 28 px (Lanczos on the float image, which averages when shrinking), centred on 28x28.

    Returns (uint8 [28, 28] with the brightest part at 255, the resized (width, height)).
    """
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
    return pixels, (nw, nh)


def _sharpen(pixels: np.ndarray) -> np.ndarray:
    """A slight unsharp mask on the 28x28 uint8, the background kept black."""
    if not SHARPEN:
        return pixels
    sharp = Image.fromarray(pixels, "L").filter(ImageFilter.UnsharpMask(radius=1, percent=SHARPEN, threshold=0))
    return np.where(pixels > 0, np.asarray(sharp), 0).astype(np.uint8)


def _empty(stages: list[Stage], why: str) -> Preprocessed:
    """The black 28×28 the model sees when no garment stands out, with `why` on its stage."""
    stages.append(Stage("28×28", Image.new("L", (28, 28), 0), f"{why}, so the 28×28 image is black."))
    notes = ["No garment stands out from the background: the model sees an empty image."]
    return Preprocessed(np.zeros((28, 28), dtype=np.uint8), stages, "ours", notes)


def our_pipeline(src, lay_on_sole: bool = True, fill_outlines: bool = True) -> Preprocessed:
    """Real photo -> Fashion-MNIST: background, difference, crop, longest side 28, centre. See the module doc.

    lay_on_sole=False leaves a tilted shoe as it lies (bench/outside_set.py reports both);
    fill_outlines=False leaves an outline drawing hollow (bench/outline_set.py reports both).
    """
    dec = open_image(src)
    stages = [Stage("Decoded", dec.image, " ".join(dec.steps))]
    grey = _grey(dec, stages)
    bg, noise = _background(grey, stages)
    diff = grey - bg
    fg = _stands_out(diff, noise)
    if fg is None:
        return _empty(stages, "Nothing differs from the background")
    garment = _darkness(diff, bg, fg, noise, stages)
    if fill_outlines:
        garment = _fill_outline(garment, stages)
    garment, core = _straighten(garment, _core(garment), stages, lay_on_sole)
    if not core.any():  # e.g. a fine texture: it differs from its estimated background, but no pixel clearly
        return _empty(stages, "No part stands out clearly (Otsu's threshold leaves nothing)")
    crop = _keep_garment(garment, core, stages)
    pixels, (nw, nh) = _to_28(crop)
    pixels = _sharpen(pixels)
    stages.append(
        Stage(
            "28×28",
            Image.fromarray(pixels, "L"),
            f"Longest side resized to 28 px ({nw}×{nh}) and centred on a black 28×28 canvas; brightest part set "
            "to 255 and edges sharpened slightly, as Fashion-MNIST was made.",
        )
    )
    return Preprocessed(pixels, stages, "ours", [])


# ---------------------------------------------------------------------------------------------
# The tutorial's pipeline
# ---------------------------------------------------------------------------------------------


def tutorial_pipeline(src) -> Preprocessed:
    """The tutorial's steps as written: grey, invert if bright, autocontrast, longest side 20 px on 28x28.

    Like the tutorial's `Image.open(path).convert('L')`, it ignores EXIF orientation and
    transparency. Its final normalisation (mean 0.2860, std 0.3530) is not done here: the
    classifier applies the model's own scaling. Upload shows what the normalisation does to a
    model trained on [0, 1] pixels (explain.predict_with_scaling; bench/photo_variants.py measures it).
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


def preprocess_image(src, pipeline: str = "ours", lay_on_sole: bool = True, fill_outlines: bool = True) -> Preprocessed:
    """Run a named pipeline ("ours" or "tutorial"). Raises ImageError for unusable input."""
    if pipeline == "ours":
        return our_pipeline(src, lay_on_sole, fill_outlines)
    if pipeline == "tutorial":
        return tutorial_pipeline(src)
    raise ValueError(f"Unknown pipeline {pipeline!r}; choose one of {', '.join(PIPELINES)}.")
