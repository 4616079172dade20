"""Browse: the active model's predictions on test images, its mistakes and its confusion matrix."""

import numpy as np
import streamlit as st

from fmnist_lib.links import BROWSE_MAX_N, PAGE_DEFAULTS
from lab_ui import charts, layout, resources, share, state
from lab_ui.browse_page import calibration, cards
from lab_ui.text import plain

st.title(":material/grid_view: Browse predictions")
share.notes("browse")
data = resources.dataset()
layout.active_model_line()

name, run, run_id = resources.active()
preds = resources.predictions(run, run_id)
classes = run.classes
images = data.test_images.numpy()  # a view of the shared uint8 tensor, no copy

n_test = len(preds.labels)

# --- a random batch -----------------------------------------------------------------
st.subheader("Test images and what the model says")
DEFAULTS = PAGE_DEFAULTS["browse"]
VIEWS = {
    "all": "Random images",
    "mistakes": "Mistakes only",
    "confident": "Most confident mistakes",
}
# Wrapping rows, not st.columns (which stack on a phone, one control per row): on a phone the
# slider and the button share a row, so the first cards show on the first screen.
with st.container(horizontal=True, vertical_alignment="bottom"):
    view = st.radio(
        "Show",
        list(VIEWS),
        format_func=VIEWS.get,
        horizontal=True,
        width="content",
        **state.bind(state.VIEW, DEFAULTS["view"], options=VIEWS),
    )
    with st.container(horizontal=True, vertical_alignment="bottom", width=420):
        batch = st.slider("How many", 1, BROWSE_MAX_N, **state.bind(state.BATCH_SIZE, DEFAULTS["n"]))
        st.button(
            "New batch",
            icon=":material/casino:",
            key=state.NEW_BATCH_BUTTON,
            on_click=lambda: state.put(state.BROWSE_BATCH, state.new_browse_batch()),  # the link follows
            disabled=view == "confident",
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
    state.record_event("opened:confident_mistakes")  # the lesson's "should the model always answer?" check
    idx = preds.mistakes(most_confident=True)[:batch]
    st.caption(
        "The mistakes the model was surest about. Often the label itself is debatable "
        "(a shirt or a T-shirt?), or the garment looks like another class."
    )


cards.grid(images, preds, classes, idx)
share.link_box(
    "browse",
    "It keeps the view, the batch and how many: opened anywhere, *Random images* shows these same test images "
    "(what the model says about them is that session's active model's).",
)

# --- confusion matrix -------------------------------------------------------------------
st.subheader("Where the model goes wrong")
n_wrong = int((~preds.correct).sum())
with st.container(horizontal=True, gap="medium"):  # wraps on a phone, two metrics a row
    st.metric("Test accuracy", f"{preds.accuracy:.1%}", width="content")
    st.metric(f"Mistakes (of {n_test:,})", f"{n_wrong:,}", width="content")
    st.metric(
        "Mean confidence when wrong",
        f"{preds.confidence[~preds.correct].mean():.0%}" if n_wrong else "—",
        width="content",
    )
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

c1, c2 = st.columns(2, wrap=False)  # side by side on a phone too
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
cards.grid(images, preds, classes, cell[:16])

# --- calibration --------------------------------------------------------------------------
calibration.draw(run, run_id, data)
