"""The drawing canvas on Upload: a garment drawn with the mouse or a finger, read stroke by stroke.

streamlit-drawable-canvas (Fabric.js, a Streamlit v2 component drawn in the page itself, no iframe) does
the drawing, with its own undo, redo and reset on the toolbar that shows above it on hover or touch.
Each finished stroke is sent back. The canvas and its quick read (the pipeline's steps and the Top-3) are
one fragment, so a stroke reruns them alone, not the whole Upload page (issue 24: drawing to Top-3 in
<= 1 s). The rest of the page (the mirror image, the tutorial's pipeline, the evidence, the temperature)
follows the drawing when the learner asks for it: each stroke then reruns the whole page.
"""

from __future__ import annotations

import io

import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from fmnist_lib.inference import Classifier
from fmnist_lib.links import PAGE_DEFAULTS
from fmnist_lib.novelty import NoveltyCheck
from lab_ui import pictures, state
from lab_ui.upload_page import uploads

CANVAS_PX = 320  # square; fits a 390 px phone's column (358 px) and is plenty for a 28x28 input
PEN_WIDTHS = (2, 4, 6, 8, 12, 16, 24, 32)
INK = {False: ("#000000", "#ffffff"), True: ("#ffffff", "#000000")}  # white on black? -> (stroke, paper)
WHOLE_PAGE_LABEL = "The whole page for the drawing"
INPUT_PX = 168  # the 28x28 input shown 6x: as wide as its column on a desktop, not the whole width of a phone


def on_paper(png: bytes, paper: str) -> bytes:
    """The canvas's PNG laid on its paper colour: the strokes' edges are antialiased against it, and a
    transparent background would otherwise become white (decode puts transparency on white)."""
    img = Image.open(io.BytesIO(png)).convert("RGBA")
    flat = Image.new("RGBA", img.size, paper)
    flat.alpha_composite(img)
    out = io.BytesIO()
    flat.convert("RGB").save(out, "PNG")
    return out.getvalue()


def whole_page() -> bool:
    """Whether the whole Upload page follows the drawing (else the canvas's quick read alone)."""
    return bool(state.get(state.CANVAS_WHOLE_PAGE, False))


def _follow() -> None:
    """A stroke, undo or new paper: with the whole page shown, rerun all of it (else the fragment alone),
    so nothing below the canvas shows an earlier drawing."""
    if whole_page():
        st.rerun()


def _following(kwargs: dict) -> dict:
    """state.bind's kwargs with _follow after its own callback (which must finish: it records the change)."""
    sync = kwargs["on_change"]

    def both() -> None:
        sync()
        _follow()

    return {**kwargs, "on_change": both}


@st.fragment
def drawing(clf: Classifier, check: NoveltyCheck) -> io.BytesIO | None:
    """Draw the canvas and its pen settings and, unless the whole page follows the drawing, its quick
    read; the drawing as a PNG file, or None while it is empty (on a full run; a stroke reruns this alone)."""
    left, right = st.columns(2)
    with left:
        pen = st.select_slider("Pen width", PEN_WIDTHS, **state.bind(state.PEN_WIDTH, 8))
    with right:
        dark = st.toggle("White on black", **_following(state.bind(state.CANVAS_DARK, False)))
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
        on_change=_follow,
    )
    st.caption(
        "Draw one garment, an outline or filled in. Undo, redo and clear are on the canvas's toolbar (hover "
        "over it, or tap it on a phone); switching the colours starts a new drawing."
    )
    objects = (result.json_data or {}).get("objects") or []
    png = result.image_bytes if objects else None
    if not png:
        st.info("Draw a garment on the canvas: the model reads your drawing stroke by stroke.", icon=":material/draw:")
        return None
    source = io.BytesIO(on_paper(png, paper))
    if not whole_page():
        quick_read(clf, check, source.getvalue())
    return source


def quick_read(clf: Classifier, check: NoveltyCheck, data: bytes) -> None:
    """The drawing's Top-3 (right under the canvas, where a phone shows it) and then its steps, with the
    page's fill and mirror settings: what a stroke changes."""
    result = uploads.process(data, fill=bool(state.get(state.FILL, PAGE_DEFAULTS["upload"]["fill"])))
    if result.error:
        st.error(f"The drawing can't be used: {result.error}")
        return
    ours = result.pipelines["ours"]
    mirror = bool(state.get(state.MIRROR, PAGE_DEFAULTS["upload"]["mirror"]))
    step = clf.predict_both_ways(ours.pixels, k=3)
    left, right = st.columns([1, 3], gap="medium")
    with left:
        st.image(pictures.upscale(ours.pixels, 6), caption="The model's input (28×28)", width=INPUT_PX)
    with right:
        uploads.top3_block(step, mirror, check, clf, ours.pixels, chart=False, whole_page=False)
    st.markdown("**From your drawing to the model's input**")
    uploads.draw_steps(ours.stages)


def whole_page_toggle() -> bool:
    """The switch that makes the whole page (mirror image, tutorial's pipeline, evidence) follow the drawing."""
    return st.toggle(
        WHOLE_PAGE_LABEL,
        help="Below the canvas, a stroke updates the drawing's Top-3 and steps alone, the quickest way to see "
        "what the model makes of it. Switch this on to see the rest of the page for your drawing too (the "
        "mirror-aware switch and the mirror image, the tutorial's pipeline, the evidence for each class, the "
        "temperature): each stroke then reruns the whole page, which takes longer.",
        **state.bind(state.CANVAS_WHOLE_PAGE, False),
    )
