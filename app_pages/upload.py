"""Upload: classify your own photo, step by step, with the Top-3 and (softmax) the evidence."""

import streamlit as st

from fmnist_lib.analysis import class_biases, evidence_maps
from fmnist_lib.links import PAGE_DEFAULTS, TEMPERATURES
from lab_ui import charts, layout, pictures, resources, share, state
from lab_ui.text import plain
from lab_ui.upload_page import sketch, tutorial_view, uploads

st.title(":material/photo_camera: Upload a photo")
resources.dataset()
share.notes("upload")
layout.active_model_line()
name, run, run_id = resources.active()
clf = run.classifier()
classes = run.classes

st.caption(
    "A photo of one garment, ideally on a plain background. It is turned into a 28×28 greyscale image "
    "like Fashion-MNIST's (a light garment on black), then classified by the active model."
)
use_canvas = st.toggle("Draw a garment instead", **state.bind(state.USE_CANVAS, False))
use_camera = not use_canvas and st.toggle("Use the camera instead", **state.bind(state.USE_CAMERA, False))
# A drawing: a fragment, so a stroke reruns the canvas and its quick read, not this page.
# A photo: the session's last one while the widget is empty (after a page switch or a reload).
source = sketch.drawing(clf, resources.novelty(run, run_id)) if use_canvas else uploads.photo_input(camera=use_camera)

share.link_box(
    "upload",
    "An uploaded photo cannot travel in a link: the link keeps the mirror-aware switch (step 2), and whoever "
    "opens it uploads their own photo.",
)
if source is None and not use_canvas:  # an empty canvas asks for a drawing itself
    st.info("Upload a photo (or take one, or draw) to see how the model sees it.", icon=":material/upload:")
    st.stop()

fill = st.toggle(
    "Fill outline drawings",
    help="A drawing of thin strokes around empty paper is filled inside, as Fashion-MNIST garments are solid "
    "shapes; switch it off to see what the model makes of a hollow outline. Photos are never changed.",
    **state.bind(state.FILL, True),
)
if use_canvas and not (sketch.whole_page_toggle() and source is not None):
    st.stop()  # the canvas's fragment shows the drawing's steps and Top-3
result = uploads.process(source.getvalue(), fill=fill)
if result.error:
    st.error(f"**{plain(getattr(source, 'name', 'This file'))}** can't be used: {result.error}")
    st.stop()

ours = result.pipelines["ours"]
tutorial = result.pipelines["tutorial"]

# --- preprocessing stages ----------------------------------------------------------------
st.subheader("1. From your photo to a 28×28 input")
original = [("Original", result.original, "")] if result.original is not None else []
uploads.draw_steps([*original, *ours.stages])

# --- prediction --------------------------------------------------------------------------
st.subheader("2. What the model says")
mirror = st.toggle(
    "Mirror-aware: a garment is the same garment in the mirror",
    help="Every Fashion-MNIST shoe points left, its heavier heel on the right, so a model trained on them "
    "alone (the tutorial's softmax) can miss a shoe pointing right. For such a model, when your garment's "
    "weight lies left of its middle, it reads its mirror image; when it is balanced (a top, a bag), it "
    "averages both views. A model trained on mirror images too (augmentation on the Train page) always "
    "averages both views. Switch it off to see what the model says about your image alone.",
    **state.bind(state.MIRROR, PAGE_DEFAULTS["upload"]["mirror"]),
)
step = clf.predict_both_ways(ours.pixels, k=3)
top = (step.combined if mirror else step.own).top(0)
left, mid, right = st.columns([1, 2, 2], gap="medium")
with left:
    st.image(pictures.upscale(ours.pixels, 6), caption="The model's input (28×28)", width="stretch")
    if mirror:
        st.image(pictures.upscale(step.mirrored_images[0].numpy(), 6), caption="Its mirror image", width="stretch")
with mid:
    uploads.top3_block(step, mirror, resources.novelty(run, run_id), clf, ours.pixels, softmax=run.kind == "softmax")
with right:
    tutorial_view.draw(clf, tutorial.pixels, tutorial.stages, mirror, (run, run_id))

# --- softmax only: evidence and temperature ------------------------------------------------
if run.kind != "softmax":
    st.caption(
        "The per-pixel evidence and the temperature demo are shown for softmax regression, whose score "
        "is a plain weighted sum of pixels. Pick a softmax model in the sidebar to see them."
    )
    st.stop()

st.subheader("3. Why: the evidence for each of the Top-3")
idx = [t["index"] for t in top]
views = clf.views_read(ours.pixels) if mirror else [(ours.pixels, False)]  # what the Top-3 read: one view or two
bias = class_biases(clf)
for x, is_mirror in views:
    maps = evidence_maps(clf, x, idx)
    ecols = st.columns(len(idx) + 1)
    with ecols[0]:
        what = "input x: its mirror image" if is_mirror else ("input x: as it is" if len(views) > 1 else "input x")
        st.image(pictures.upscale(x, 4), caption=what, width="stretch")
    for col, c, m, img in zip(ecols[1:], idx, maps, pictures.signed_images(maps, factor=4), strict=True):
        with col:
            st.image(img, caption=f"w·x for {classes[c]}", width="stretch")
            st.caption(f"sum {m.sum():+.2f} + bias {bias[c]:+.2f} = logit **{m.sum() + bias[c]:+.2f}**")
st.caption(
    "Each map is the class's template w_c multiplied pixel by pixel with the input x. Blue pixels pushed "
    "the model towards that class, red ones away from it. Adding them up (and the class's bias) gives its "
    "logit; the highest logit wins"
    + ("; the Top-3 averages the probabilities of the two rows' logits." if len(views) > 1 else ".")
)


@st.fragment
def temperature_demo() -> None:
    st.subheader("4. Softmax temperature")
    t = st.select_slider(
        "Temperature T", TEMPERATURES, format_func=lambda v: f"{v:g}", **state.bind(state.TEMPERATURE, 1.0)
    )
    scaled = clf.predict(ours.pixels, k=len(classes), temperature=t, mirror=mirror)  # what the Top-3 read
    order = [x["index"] for x in scaled.top(0)]
    probs = scaled.probs[0].tolist()
    averaged = uploads.reading(step, mirror) == "both"
    st.markdown(
        f"At **T = {t:g}**, {plain(classes[order[0]])} gets **{probs[order[0]]:.1%}** "
        f"and the least likely class {probs[order[-1]]:.2%}."
    )
    title = f"softmax(logits / {t:g})" + (", both views averaged" if averaged else "")
    st.altair_chart(
        charts.bar_chart([classes[i] for i in order], [probs[i] for i in order], title),
        width="stretch",
    )
    order_note = (
        "Within each view the order never changes; their average's can, where the two views disagree, "
        "so here the prediction can too."
        if averaged
        else "The order never changes, so the prediction doesn't either: only how sure it sounds."
    )
    st.caption(
        "The same logits, divided by T before softmax. T < 1 sharpens the probabilities (the top class "
        f"takes almost everything); T > 1 flattens them towards 10% each. {order_note} T = 1 is the model's "
        "own softmax, the Top-3 above."
    )


temperature_demo()
