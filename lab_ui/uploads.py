"""Uploaded photos: preprocess once per upload (both pipelines) and keep small thumbnails only.

A 12-megapixel photo is decoded by fmnist_lib.images.preprocess; what the page keeps and draws
are thumbnails (<= THUMB px), so reruns (the temperature slider, ...) cost nothing and
the session holds no big images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
from PIL import Image

from fmnist_lib.images.decode import ImageError, preview_image
from fmnist_lib.images.preprocess import preprocess_image
from fmnist_lib.inference import MirroredPrediction

from . import state
from .text import plain

THUMB = 320
PIPELINES = ("ours", "tutorial")
STEPS_PER_ROW = 4  # ~260 px a step on a wide desktop page: "Autocontrast" and "transparency" fit unbroken
FRAME_PX, FRAME_GREY = 2, 170  # a white "Background" step stays visible on a white page


@dataclass
class Processed:
    pixels: np.ndarray  # [28, 28] uint8, the model's input
    stages: list[tuple[str, Image.Image, str]]  # (name, thumbnail, caption)


@dataclass
class UploadResult:
    digest: str
    error: str | None = None
    original: Image.Image | None = None  # thumbnail, in colour
    pipelines: dict[str, Processed] = field(default_factory=dict)


def thumbnail(img: Image.Image, size: int = THUMB) -> Image.Image:
    w, h = img.size
    scale = size / max(w, h)
    if scale >= 1:
        return img.copy()
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR, reducing_gap=3.0)


def on_checkerboard(img: Image.Image, square: int = 8) -> Image.Image:
    """An RGBA image over a light grey-and-white checkerboard, as image viewers show transparency
    (dropping the alpha instead would show whatever colour is stored under it, often black)."""
    w, h = img.size
    yy, xx = np.mgrid[0:h, 0:w]
    board = np.where(((yy // square) + (xx // square)) % 2 == 0, 255, 214).astype(np.uint8)  # [h, w]
    under = Image.fromarray(np.dstack([board, board, board, np.full_like(board, 255)]), "RGBA")
    return Image.alpha_composite(under, img.convert("RGBA")).convert("RGB")


def _original_thumbnail(data: bytes) -> Image.Image | None:
    """The upload as the user sees it, small, decoded within the same bounds as the pipelines (a JPEG
    reduced while it is decoded, anything else reduced before any copy); transparent parts on a checkerboard."""
    try:
        img = preview_image(data, THUMB)
    except ImageError:  # only a preview: the pipelines report the problem
        return None
    if img.mode in ("RGBA", "LA"):
        return on_checkerboard(img)
    return img if img.mode in ("RGB", "L") else img.convert("RGB")


def process(data: bytes, fill: bool = True) -> UploadResult:
    """Both pipelines on the bytes (memoised per session for the last upload); fill: fill an outline drawing."""
    digest = hashlib.sha256(data).hexdigest() + ("" if fill else ".hollow")
    memo = st.session_state.get(state.UPLOAD_MEMO)
    if memo is not None and memo.digest == digest:
        return memo
    result = UploadResult(digest)
    try:
        for name in PIPELINES:
            pre = preprocess_image(data, pipeline=name, fill_outlines=fill)
            result.pipelines[name] = Processed(
                pixels=np.asarray(pre.pixels, dtype=np.uint8),
                stages=[(s.name, thumbnail(s.image), s.caption) for s in pre.stages],
            )
        result.original = _original_thumbnail(data)
    except ImageError as e:
        result = UploadResult(digest, error=str(e))
    except Exception as e:  # a bug or an image no pipeline step expected: say so, keep the page working
        result = UploadResult(digest, error=f"This image could not be processed ({type(e).__name__}: {e}).")
    st.session_state[state.UPLOAD_MEMO] = result
    return result


def in_rows(items: list, per_row: int = STEPS_PER_ROW) -> list[list]:
    """items in rows of at most per_row, in order."""
    return [items[i : i + per_row] for i in range(0, len(items), per_row)]


def framed(img: Image.Image, px: int = FRAME_PX, grey: int = FRAME_GREY) -> np.ndarray:
    """The image as an array ([h, w] or [h, w, 3] uint8) with a px-wide grey border drawn over its edge."""
    a = np.array(img.convert("RGB") if img.mode not in ("L", "RGB") else img, dtype=np.uint8)
    px = min(px, (min(a.shape[:2]) + 1) // 2)
    a[:px], a[-px:], a[:, :px], a[:, -px:] = grey, grey, grey, grey
    return a


def draw_steps(steps: list[tuple[str, Image.Image | None, str]]) -> None:
    """Pipeline steps (name, thumbnail, caption) in rows of STEPS_PER_ROW equal columns, each image framed."""
    for row in in_rows(steps):
        for col, (name, img, caption) in zip(st.columns(STEPS_PER_ROW), row, strict=False):
            with col:
                if img is not None:
                    st.image(framed(img), width="stretch")
                st.markdown(f"**{name}**")
                if caption:
                    st.caption(caption)


def mirror_view(step: MirroredPrediction) -> str:
    """Which view the mirror step used for the first image, and why (its heavier side)."""
    weight, offset = float(step.own_weight[0]), float(step.offset[0])
    side = f"its centre of mass is {abs(offset):.1f} px {'right' if offset > 0 else 'left'} of its middle"
    if step.saw_mirrors:
        return (
            "This model was trained on mirror images too, so no way of facing is new to it: it averages both "
            f"views ({side})."
        )
    if weight == 0.0:
        return (
            f"It faces right ({side}), unlike every Fashion-MNIST shoe, whose heavier heel is on the right: "
            "the model reads its mirror image."
        )
    if weight == 1.0:
        return f"It already faces Fashion-MNIST's way ({side}, like a shoe pointing left): the model reads it as it is."
    return f"It is balanced left to right ({side}), like a top or a bag: the model averages both views."


def mirror_effect(step: MirroredPrediction, mirror_on: bool) -> str:
    """One line under the Top-3: which view the mirror step used, what each view says, and what changed."""
    own, mirrored, combined = (p.top(0)[0] for p in (step.own, step.mirrored, step.combined))

    def say(t: dict) -> str:
        return f"{plain(t['label'])} ({t['prob']:.0%})"

    views = f"Your image alone: {say(own)}; its mirror image: {say(mirrored)}; mirror-aware: {say(combined)}."
    line = f"{mirror_view(step)} {views}"
    if own["index"] == combined["index"]:
        return line + " The mirror step does not change the answer here."
    if mirror_on:
        return line + f" The mirror step changed the answer: alone, the model would have said {plain(own['label'])}."
    return line + f" Mirror-aware, the answer would be {plain(combined['label'])}."
