"""Inside softmax: one prediction of the active model followed from pixels to loss to gradient to one step."""

import streamlit as st

from fmnist_lib.explain import explain
from lab_ui import layout, resources, share, state
from lab_ui.softmax_page import inside

st.title(":material/functions: Inside softmax")
share.notes("softmax")
data = resources.dataset()
layout.active_model_line()
name, run, run_id = resources.active()
clf = run.classifier()

st.caption(
    "One image through the active model, step by step, with the real numbers: the tutorial's two notes, "
    "*where is softmax?* and *why is it stable?*, happen below. `python -m fmnist_lib explain` prints the same numbers."
)
picked = inside.pick_image(data, clf)
LINK_NOTE = (
    "It keeps the image source, the test index, the temperature, the logit shift and the step's rate "
    "(a random image or your photo cannot travel in a link: set the image source to an index to share one)."
)
if picked is None:
    share.link_box("softmax", LINK_NOTE)
    st.stop()
ex = explain(clf, picked.pixels, picked.label)

inside.step_logits(ex, clf, picked.what)
inside.step_probabilities(ex, clf.classes)
inside.step_loss(ex, clf.classes)
inside.step_stability(ex, clf.classes)
inside.step_gradient(ex, clf.classes)
inside.step_sgd(ex, clf, picked, state.model_key(run_id, run))

st.divider()
share.link_box("softmax", LINK_NOTE)  # at the foot: on a phone, step 1 stays on the first screen
