"""Browse: the active model's predictions on test images, its mistakes and its confusion matrix."""

import secrets

import numpy as np
import streamlit as st

from lab_ui import calibration, charts, layout, resources, state
from lab_ui.text import plain

layout.ensure_entry_point()
st.title(":material/grid_view: Browse predictions")
data = resources.dataset()
layout.active_model_line()

name, run, run_id = resources.active()
preds = resources.predictions(run, run_id)
classes = run.classes
images = data.test_images.numpy()  # a view of the shared uint8 tensor, no copy

n_test = len(preds.labels)
n_wrong = int((~preds.correct).sum())
m1, m2, m3 = st.columns(3)
m1.metric("Test accuracy", f"{preds.accuracy:.1%}")
m2.metric("Mistakes", f"{n_wrong:,} of {n_test:,}")
m3.metric("Mean confidence when wrong", f"{preds.confidence[~preds.correct].mean():.0%}" if n_wrong else "—")

# --- a random batch -----------------------------------------------------------------
st.subheader("Test images and what the model says")
if state.BROWSE_SEED not in st.session_state:
    st.session_state[state.BROWSE_SEED] = secrets.randbits(32)

VIEWS = {
    "all": "Random images",
    "mistakes": "Mistakes only",
    "confident": "Most confident mistakes",
}
c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
with c1:
    view = st.radio(
        "Show", list(VIEWS), format_func=VIEWS.get, horizontal=True, **state.bind(state.VIEW, "all", options=VIEWS)
    )
with c2:
    batch = st.slider("How many", 1, 32, **state.bind(state.BATCH_SIZE, 8))
with c3:
    st.button(
        "New batch",
        icon=":material/casino:",
        key=state.NEW_BATCH_BUTTON,
        on_click=lambda: st.session_state.__setitem__(state.BROWSE_SEED, secrets.randbits(32)),
        disabled=view == "confident",
        width="stretch",
    )

rng = np.random.default_rng(st.session_state[state.BROWSE_SEED])
if view == "all":
    idx = rng.choice(n_test, size=batch, replace=False)
    st.caption("A random sample of the 10,000 test images, which the model never trained on.")
elif view == "mistakes":
    wrong = preds.mistakes()
    idx = rng.choice(wrong, size=min(batch, len(wrong)), replace=False) if len(wrong) else wrong
    st.caption("A random sample of the test images the model got wrong.")
else:
    idx = preds.mistakes(most_confident=True)[:batch]
    st.caption(
        "The mistakes the model was surest about. Often the label itself is debatable "
        "(a shirt or a T-shirt?), or the garment looks like another class."
    )


def image_grid(indices, per_row: int = 8) -> None:
    """Cards of test images: the image, ✅/❌, predicted and true class, confidence."""
    if len(indices) == 0:
        st.info("No images to show here.")
        return
    for start in range(0, len(indices), per_row):
        cols = st.columns(per_row)
        for col, i in zip(cols, indices[start : start + per_row], strict=False):
            i = int(i)
            p, t, conf = int(preds.pred[i]), int(preds.labels[i]), float(preds.confidence[i])
            right = p == t
            with col.container(border=True, height="stretch"):  # the cards of a row as tall as the tallest
                st.image(charts.upscale(images[i], 4), width="stretch")
                mark = ":green[:material/check_circle: right]" if right else ":red[:material/cancel: **wrong**]"
                st.markdown(f"{mark}  \n**{plain(classes[p])}**  \n{conf:.0%}")
                st.caption(f"true: {plain(classes[t])}")


image_grid(idx)

# --- confusion matrix -------------------------------------------------------------------
st.subheader("Where the model goes wrong")
matrix = preds.confusion(len(classes))
off = matrix.copy()
np.fill_diagonal(off, -1)
worst_t, worst_p = np.unravel_index(int(off.argmax()), off.shape)


def _cell_from_chart() -> None:
    event = st.session_state.get(state.CONFUSION_CHART)
    picked = (event or {}).get("selection", {}).get("cell") or []
    if picked:
        state.put(state.CELL_TRUE, classes.index(picked[0]["true"]))
        state.put(state.CELL_PRED, classes.index(picked[0]["predicted"]))


left, right = st.columns([3, 2], gap="large")
with left:
    st.altair_chart(
        charts.confusion_chart(matrix, classes),
        key=state.CONFUSION_CHART,
        on_select=_cell_from_chart,
        selection_mode="cell",
        width="stretch",
    )
    st.caption(
        "Rows: the true class; columns: the model's guess. The diagonal counts the right answers; "
        "every other cell is a kind of mistake. Colour: the share of that true class. "
        "**Click a cell** to see its images below."
    )
with right:
    st.altair_chart(charts.per_class_chart(preds.per_class_accuracy(len(classes)), classes), width="stretch")
    st.caption(
        "How often each class is recognised. Shirts are the hardest: they look like T-shirts, pullovers and coats."
    )

c1, c2 = st.columns(2)
with c1:
    t = st.selectbox(
        "True class",
        range(len(classes)),
        format_func=classes.__getitem__,
        **state.bind(state.CELL_TRUE, int(worst_t), options=range(len(classes))),
    )
with c2:
    p = st.selectbox(
        "Predicted class",
        range(len(classes)),
        format_func=classes.__getitem__,
        **state.bind(state.CELL_PRED, int(worst_p), options=range(len(classes))),
    )
cell = preds.cell(t, p)
verb = "recognised correctly" if t == p else f"predicted as **{plain(classes[p])}**"
st.markdown(
    f"**{len(cell):,}** test images of **{plain(classes[t])}** {verb}"
    + (" — the 16 most confident:" if len(cell) > 16 else ":")
)
image_grid(cell[:16])

# --- calibration --------------------------------------------------------------------------
calibration.draw(run, run_id, data)
