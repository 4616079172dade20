"""Upload's comparison with the tutorial's pipeline exactly as written: its image steps *and* its
normalisation, (x - 0.2860) / 0.3530, fed to the active model whatever scaling it was trained with.

What happened for this image (fmnist_lib.tutorial_scaling.one_image) is said first: a confident or
even matching answer is called what it is, then why the pipeline is still wrong, with the figure on
the 10,000 test images (on_test_set: once per server for the default model, once per session for a run).
"""

from __future__ import annotations

import streamlit as st

from fmnist_lib import FashionMNIST, TrainingRun
from fmnist_lib.inference import Classifier
from fmnist_lib.scaling import STANDARDIZED
from fmnist_lib.tutorial_scaling import CONFIDENT, OneImage, OnTestSet, on_test_set, one_image
from lab_ui import pictures, resources, state
from lab_ui.text import plain
from lab_ui.upload_page.uploads import draw_steps


def cell(t: dict) -> str:
    """One Top-3 entry as a table cell (a class name from a checkpoint is plain text; | would end the cell)."""
    return f"{plain(t['label']).replace('|', chr(92) + '|')} {t['prob']:.1%}"


def _say(t: dict) -> str:
    return f"**{plain(t['label'])}** ({t['prob']:.1%})"  # as the table beside it: 99.6% is not 100%


def what_happened(facts: OneImage) -> str:
    """What the tutorial's normalisation did to this image's answer, beside the model's own scaling."""
    written, own = facts.as_written[0], facts.own[0]
    if facts.agree and facts.confident:
        return (
            f"Here the tutorial's scaling happens to give the same answer as the model's own, {_say(written)}, "
            f"and sounds sure of it (its own scaling: {own['prob']:.1%}). That is luck, not a working pipeline."
        )
    if facts.agree:
        return (
            f"Here the tutorial's scaling happens to give the same answer as the model's own, {plain(own['label'])} "
            f"({written['prob']:.1%} against {own['prob']:.1%}). That is luck, not a working pipeline."
        )
    if facts.confident:
        return (
            f"Here the tutorial's scaling changes the answer to {_say(written)}, and sounds sure of it, where the "
            f"model's own scaling says {_say(own)}: its confidence says nothing about the photo."
        )
    return f"Here the tutorial's scaling changes the answer: {_say(written)} instead of {_say(own)}."


def why_wrong(figure: OnTestSet | None) -> str:
    """Why the tutorial's scaling is wrong in general, for a model trained on [0, 1] pixels, with the test-set figure."""
    lo, hi = ((v - STANDARDIZED.mean) / STANDARDIZED.std for v in (0.0, 1.0))
    why = (
        "Why it is wrong in general: the model was trained on pixels in [0, 1] (the tutorial's `ToTensor()`), but "
        "the tutorial's upload code normalises with Fashion-MNIST's mean and std, so black background becomes "
        f"{lo:.2f} instead of 0 and white {hi:.2f} instead of 1. Inputs the model never saw: "
        f"each logit is stretched {1 / STANDARDIZED.std:.1f}-fold and shifted by {lo:.2f} times the sum of its "
        "class's weights, so the answer says more about the weights than about the photo."
    )
    if figure is None:
        return why
    return why + (
        f" On the {figure.n:,} test images it gets {figure.as_written_accuracy:.1%} right, against "
        f"{figure.own_accuracy:.1%} with the model's own scaling; the two answers agree on "
        f"{figure.agreement:.0%} of them, and {figure.confident_wrong:.0%} are wrong at {CONFIDENT:.0%} or more."
    )


SAME_SCALING = (
    "This model was trained on standardised pixels, so for it the tutorial's normalisation happens to be "
    "its own and the two answers agree. The tutorial's own model, softmax regression trained on [0, 1] "
    "pixels, is the one it breaks: pick a softmax model in the sidebar to see it."
)


def _measure(clf: Classifier, data: FashionMNIST) -> OnTestSet:
    with st.spinner("Measuring the tutorial's scaling on the test images…"):
        return on_test_set(clf, data.test_images, data.test_labels)


def _measure_default() -> OnTestSet:
    return _measure(resources.DEFAULT_RUN.get().classifier(), resources.DATA.get())


# The default model's figure, once per server (every session shares that model), like resources' defaults.
_DEFAULT_FIGURE = resources.Shared(_measure_default)


def test_set_figure(clf: Classifier, run: TrainingRun, run_id: int | None) -> OnTestSet:
    """The tutorial's scaling against the model's own on the test set: once per model state."""
    data = resources.dataset()
    if run_id is None:
        return _DEFAULT_FIGURE.get()
    return state.memo(state.TUTORIAL_MEMO, state.model_key(run_id, run), lambda: _measure(clf, data))


def draw(clf: Classifier, pixels, stages, mirror: bool, model: tuple[TrainingRun, int | None]) -> None:
    """The tutorial's 28x28, its answer as written, the same 28x28 with the model's own scaling (both through
    the mirror step when it is on, as the rest of the page), what happened here and why it is wrong."""
    facts = one_image(clf, pixels, mirror=mirror, k=3)
    st.markdown("**The tutorial's pipeline, as written** (for comparison)")
    st.markdown("Its steps, then its normalisation `(x − 0.2860) / 0.3530`, fed to the active model:")
    c1, c2 = st.columns([1, 3])
    with c1:
        st.image(pictures.upscale(pixels, 3), caption="Tutorial's 28×28", width="stretch")
    with c2:
        rows = [
            f"| {i + 1} | {cell(a)} | {cell(o)} |"
            for i, (a, o) in enumerate(zip(facts.as_written, facts.own, strict=True))
        ]
        st.markdown("| | as written | own scaling |\n|---|---|---|\n" + "\n".join(rows))
    if facts.same_scaling:
        st.caption(SAME_SCALING)
    else:
        st.caption(f"{what_happened(facts)} {why_wrong(test_set_figure(clf, *model))}")
    with st.expander("The tutorial's steps"):
        draw_steps(stages)
