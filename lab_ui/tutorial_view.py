"""Upload's comparison with the tutorial's pipeline exactly as written: its image steps *and* its
normalisation, (x - 0.2860) / 0.3530, fed to the active model whatever scaling it was trained with."""

from __future__ import annotations

import streamlit as st

from fmnist_lib.explain import predict_with_scaling
from fmnist_lib.inference import Classifier
from fmnist_lib.scaling import STANDARDIZED

from . import charts
from .text import plain
from .uploads import draw_steps


def cell(t: dict) -> str:
    """One Top-3 entry as a table cell (a class name from a checkpoint is plain text; | would end the cell)."""
    return f"{plain(t['label']).replace('|', chr(92) + '|')} {t['prob']:.1%}"


def why_wrong(clf: Classifier) -> str:
    """The sentence under the comparison: why the tutorial's answer is (or here happens not to be) wrong."""
    if clf.scaling == STANDARDIZED:
        return (
            "This model was trained on standardised pixels, so for it the tutorial's normalisation happens to be "
            "its own and the two answers agree. The tutorial's own model, softmax regression trained on [0, 1] "
            "pixels, is the one it breaks: pick a softmax model in the sidebar to see it."
        )
    lo, hi = ((v - STANDARDIZED.mean) / STANDARDIZED.std for v in (0.0, 1.0))
    return (
        "Why the first is wrong: the model was trained on pixels in [0, 1] (the tutorial's `ToTensor()`), but "
        "the tutorial's upload code normalises with Fashion-MNIST's mean and std, so black background becomes "
        f"{lo:.2f} instead of 0 and white {hi:.2f} instead of 1. Inputs the model never saw: "
        f"each logit is stretched {1 / STANDARDIZED.std:.1f}-fold and shifted by {lo:.2f} times the sum of its "
        "class's weights, so the answer says more about the weights than about the photo."
    )


def draw(clf: Classifier, pixels, stages) -> None:
    """The tutorial's 28x28, its answer as written, the same 28x28 with the model's own scaling, and why."""
    as_written = predict_with_scaling(clf, pixels, STANDARDIZED, k=3).top(0)
    own = clf.predict(pixels, k=3).top(0)
    st.markdown("**The tutorial's pipeline, as written** (for comparison)")
    st.markdown("Its steps, then its normalisation `(x − 0.2860) / 0.3530`, fed to the active model:")
    c1, c2 = st.columns([1, 3])
    with c1:
        st.image(charts.upscale(pixels, 3), caption="Tutorial's 28×28", width="stretch")
    with c2:
        rows = [f"| {i + 1} | {cell(a)} | {cell(o)} |" for i, (a, o) in enumerate(zip(as_written, own, strict=True))]
        st.markdown("| | as written | own scaling |\n|---|---|---|\n" + "\n".join(rows))
    st.caption(
        f"The tutorial's answer as written: **{plain(as_written[0]['label'])}**; with the model's own scaling the "
        f"same image gives **{plain(own[0]['label'])}**. {why_wrong(clf)}"
    )
    with st.expander("The tutorial's steps"):
        draw_steps(stages)
