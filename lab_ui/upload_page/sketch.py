"""The drawing canvas on Upload: a garment drawn with the mouse or a finger, as PNG bytes for the pipeline.

streamlit-drawable-canvas (Fabric.js, a Streamlit v2 component drawn in the page itself, no iframe) does
the drawing, with its own undo, redo and reset on the toolbar that shows above it on hover or touch.
Each finished stroke is sent back, so the Top-3 follows the drawing stroke by stroke.
"""

from __future__ import annotations

import io

import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from lab_ui import state

CANVAS_PX = 320  # square; fits a 390 px phone's column (358 px) and is plenty for a 28x28 input
PEN_WIDTHS = (2, 4, 6, 8, 12, 16, 24, 32)
INK = {False: ("#000000", "#ffffff"), True: ("#ffffff", "#000000")}  # white on black? -> (stroke, paper)


def on_paper(png: bytes, paper: str) -> bytes:
    """The canvas's PNG laid on its paper colour: the strokes' edges are antialiased against it, and a
    transparent background would otherwise become white (decode puts transparency on white)."""
    img = Image.open(io.BytesIO(png)).convert("RGBA")
    flat = Image.new("RGBA", img.size, paper)
    flat.alpha_composite(img)
    out = io.BytesIO()
    flat.convert("RGB").save(out, "PNG")
    return out.getvalue()


def drawing() -> io.BytesIO | None:
    """Draw the canvas and its pen settings; the drawing as a PNG file, or None while it is empty."""
    left, right = st.columns(2)
    with left:
        pen = st.select_slider("Pen width", PEN_WIDTHS, **state.bind(state.PEN_WIDTH, 8))
    with right:
        dark = st.toggle("White on black", **state.bind(state.CANVAS_DARK, False))
    ink, paper = INK[dark]
    result = st_canvas(
        stroke_width=pen,
        stroke_color=ink,
        background_color=paper,
        width=CANVAS_PX,
        height=CANVAS_PX,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"{state.CANVAS}.{'dark' if dark else 'light'}",  # a new paper colour starts a new drawing
    )
    st.caption(
        "Draw one garment, an outline or filled in. Undo, redo and clear are on the canvas's toolbar (hover "
        "over it, or tap it on a phone); switching the colours starts a new drawing."
    )
    objects = (result.json_data or {}).get("objects") or []
    png = result.image_bytes if objects else None
    return io.BytesIO(on_paper(png, paper)) if png else None
