"""The "Inside softmax" page's parts: the image picker and the six steps, drawn from one
`fmnist_lib.explain.Explanation` (the same numbers `python -m fmnist_lib explain` prints)."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from fmnist_lib.explain import FLOAT32_EXP_FLOOR, FLOAT32_EXP_LIMIT, LOSS_WAYS, Explanation, sgd_step, stability_demo
from fmnist_lib.inference import Classifier, softmax_with_temperature
from fmnist_lib.links import PAGE_DEFAULTS, SHIFT_RANGE, STEP_LEARNING_RATES, TEMPERATURES
from fmnist_lib.words import article
from lab_ui import pictures, state
from lab_ui.text import plain

SOURCES = {"random": "A random test image", "index": "A test image by index", "upload": "Your last photo on Upload"}
DEFAULTS = PAGE_DEFAULTS["softmax"]  # the source, index, temperature, shift and rate a link leaves out


@dataclass
class Picked:
    pixels: np.ndarray  # [28, 28] uint8
    label: int | None  # the true class (test images) or the one the learner says (their photo); None: not said yet
    key: tuple  # identifies the image, for the one-step demo's memo
    what: str  # a caption (Markdown-safe)


def last_upload_pixels(clf: Classifier) -> tuple[np.ndarray, bool] | None:
    """The 28x28 input of the last photo the Upload page processed in this session, if any, as the
    Upload page's mirror step reads it for clf: (pixels, whether that is the photo's mirror image)."""
    memo = st.session_state.get(state.UPLOAD_MEMO)
    if memo is None or memo.error or "ours" not in memo.pipelines:
        return None
    pixels = memo.pipelines["ours"].pixels
    return clf.view_read(pixels) if state.get(state.MIRROR, True) else (pixels, False)


def _new_random() -> None:
    st.session_state[state.INSIDE_RANDOM] = secrets.randbelow(10_000)


def pick_image(data, clf: Classifier) -> Picked | None:
    """The source picker; None (with a message) when the chosen source has no image yet."""
    classes = clf.classes
    n_test = len(data.test_labels)
    st.session_state.setdefault(state.INSIDE_RANDOM, secrets.randbelow(n_test))
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    with c1:
        source = st.radio(
            "Image",
            list(SOURCES),
            format_func=SOURCES.get,
            horizontal=True,
            **state.bind(state.INSIDE_SOURCE, DEFAULTS["src"], options=SOURCES),
        )
    with c2:
        if source == "random":
            st.button(
                "Another random image", icon=":material/casino:", key=state.INSIDE_RANDOM_BUTTON, on_click=_new_random
            )
        elif source == "index":
            st.number_input("Test image index", 0, n_test - 1, step=1, **state.bind(state.INSIDE_INDEX, DEFAULTS["i"]))
    if source in ("random", "index"):
        i = int(
            st.session_state[state.INSIDE_RANDOM]
            if source == "random"
            else state.get(state.INSIDE_INDEX, DEFAULTS["i"])
        )
        i = min(max(i, 0), n_test - 1)
        y = int(data.test_labels[i])
        return Picked(
            data.test_images[i].numpy(),
            y,
            ("test", i),
            f"Test image #{i:,}, {article(classes[y])} **{plain(classes[y])}**.",
        )
    last = last_upload_pixels(clf)
    if last is None:
        st.info("No photo yet: upload one on the **Upload** page, then come back.", icon=":material/upload:")
        return None
    pixels, mirrored = last
    digest = st.session_state[state.UPLOAD_MEMO].digest
    if st.session_state.get(state.INSIDE_CLASS_FOR) != digest:  # a new photo: nobody has said what it shows
        st.session_state[state.INSIDE_CLASS_FOR] = digest
        state.put(state.INSIDE_CLASS, None)
    y = st.selectbox(
        "Which class is it? (a photo has no label: the loss needs one)",
        range(len(classes)),
        format_func=classes.__getitem__,
        placeholder="Pick the class it shows",
        **state.bind(state.INSIDE_CLASS, None, arg="index"),  # the options are the class indices: index = value
    )
    how = " (in the mirror, as the Upload page's mirror step reads it: it faces right)" if mirrored else ""
    said = (
        "whose class you have not said yet."
        if y is None
        else f"which you say is {article(classes[y])} **{plain(classes[y])}**."
    )
    label = None if y is None else int(y)
    return Picked(pixels, label, ("upload", digest, mirrored), f"Your last photo on Upload{how}, {said}")


def no_label(ex: Explanation, what: str) -> bool:
    """True, with a note, when the image has no class yet (a photo whose class the learner has not said):
    `what` needs the true class y, and the page invents none."""
    if ex.label is not None:
        return False
    st.info(
        f"{what} needs the true class y: say which class your photo shows (“Which class is it?” above).",
        icon=":material/label:",
    )
    return True


# The log-sum-exp identity on two lines: on one line a 390 px phone cut off "m = max_j z_j" (issue 26).
LSE_LATEX = (
    r"\begin{gathered}\log \sum_j e^{z_j} = m + \log \sum_j e^{z_j - m} \\ \text{where } m = \max_j z_j\end{gathered}"
)

# --- charts ---------------------------------------------------------------------------------


def value_bars(
    classes, values, title: str, x_title: str, fmt: str = "+.2f", highlight: int | None = None, top: float | None = None
) -> alt.Chart:
    """Horizontal bars of signed values, one per class in class order, each labelled with its value.
    top: the axis runs from 0 to `top` (1 for probabilities: an axis to 118% would show impossible values)."""
    df = pd.DataFrame({"class": list(classes), "value": [float(v) for v in values]})
    df["label"] = [format(v, fmt) for v in df["value"]]
    df["hl"] = [i == highlight for i in range(len(df))]
    base = alt.Chart(df).encode(
        y=alt.Y("class:N", sort=list(classes), title=None, axis=alt.Axis(labelOverlap=False)),
        x=alt.X(
            "value:Q",
            title=x_title,
            scale=alt.Scale(domain=[0.0, top] if top is not None else _padded(df["value"]), nice=False),
        ),
    )
    bars = base.mark_bar().encode(
        color=alt.condition(alt.datum.hl, alt.value("#1f77b4"), alt.value("#9ecae1")),
        tooltip=["class:N", alt.Tooltip("value:Q", format=".6f")],
    )
    pos = base.transform_filter(alt.datum.value >= 0).mark_text(align="left", dx=3).encode(text="label:N")
    neg = base.transform_filter(alt.datum.value < 0).mark_text(align="right", dx=-3).encode(text="label:N")
    return (bars + pos + neg).properties(title=title, height=alt.Step(22))


def _padded(values) -> list[float]:
    """An axis from the smallest to the largest value (and 0), with room for the labels beside the bars."""
    lo, hi = min(0.0, float(min(values))), max(0.0, float(max(values)))
    room = 0.18 * ((hi - lo) or 1.0)
    return [lo - room if lo < 0 else 0.0, hi + room if hi > 0 else 0.0]


def _grid(maps: np.ndarray, classes) -> np.ndarray:
    """Ten signed maps in a 5x2 grid, each framed in grey so an all-zero map is still seen."""
    tiles = [np.pad(t, ((1, 1), (1, 1), (0, 0)), constant_values=200) for t in pictures.signed_images(maps, factor=5)]
    return pictures.labelled_grid(tiles, [str(c)[:18] for c in classes])


def _as_text(values) -> list[str]:
    """Numbers as text, so a table shows inf and NaN as such (a number column would show None)."""
    return [f"{float(v):.6g}" for v in values]


def _num(v: float) -> str:
    """A number for LaTeX: 4 significant digits, exponent form when large or tiny."""
    v = float(v)
    if not np.isfinite(v):
        return r"\infty" if v > 0 else (r"-\infty" if v < 0 else r"\text{NaN}")
    text = f"{v:.4g}"
    if "e" in text:
        m, e = text.split("e")
        return rf"{m} \times 10^{{{int(e)}}}"
    return text


# --- the six steps --------------------------------------------------------------------------


def _heading(title: str, *formulas: str) -> None:
    """A step opens the same way: its number and title, then its formulas."""
    st.subheader(title)
    for formula in formulas:
        st.latex(formula)


def needs_label(what: str, title: str, *formulas: str):
    """A step that needs the true class y: it opens with its heading, then draws only when the image has a class
    (a photo whose class the learner has not said gets no_label's note instead)."""

    def wrap(step):
        @functools.wraps(step)
        def draw(ex: Explanation, *args) -> None:
            _heading(title, *formulas)
            if not no_label(ex, what):
                step(ex, *args)

        return draw

    return wrap


def step_logits(ex: Explanation, clf: Classifier, what: str) -> None:
    classes = clf.classes
    _heading("1. Pixels to logits", r"z = W x + b, \qquad z_c = \sum_{i=1}^{784} W_{c,i}\, x_i + b_c")
    scale = clf.scaling
    how = "pixel / 255" if scale.mean == 0 and scale.std == 1 else f"(pixel / 255 − {scale.mean:g}) / {scale.std:g}"
    left, right = st.columns([1, 3], gap="large")
    with left:
        st.image(pictures.upscale(ex.pixels, 6), caption="the image", width="stretch")
        st.markdown(what)
        st.caption(
            f"x: its 784 pixels as the model was trained on them, {how} (here from {ex.x.min():.3g} to {ex.x.max():.3g})."
        )
    with right:
        st.altair_chart(
            value_bars(classes, ex.logits, "The 10 logits z", "logit z_c", highlight=ex.pred), width="stretch"
        )
        st.caption(
            f"The highest logit is the prediction: **{plain(classes[ex.pred])}** (z_{ex.pred} = {ex.logits[ex.pred]:+.3f})."
        )
    if ex.evidence is None:
        st.info(
            "This is the small CNN: its logits come out of two convolution blocks with ReLU, max-pooling and "
            "BatchNorm, so a logit is not a weighted sum of the pixels and no per-pixel map w_c ⊙ x adds up to it "
            "exactly. Everything from step 2 on is exact for any model: it starts from the logits.",
            icon=":material/info:",
        )
        return
    k = ex.pred
    s = float(ex.evidence[k].sum())
    st.markdown("For softmax regression each logit is a sum of per-pixel evidence, **w_c ⊙ x**, plus the class's bias:")
    st.latex(
        rf"\begin{{aligned}} z_{{{k}}} &= \sum_i (w_{{{k}}} \odot x)_i + b_{{{k}}} \\"
        rf" &= {_num(s)} + ({_num(ex.bias[k])}) = {_num(ex.logits[k])} \end{{aligned}}"
    )
    grid = _grid(ex.evidence, classes)
    st.image(grid, width=min(grid.shape[1], 900))
    st.caption(
        "w_c ⊙ x for each class c, on one colour scale: blue pixels pushed the model towards c, red ones away "
        f"from it. Their sum plus b_c is z_c: the equation above is class {k} ({plain(classes[k])})."
    )
    table = pd.DataFrame(
        {"class": list(classes), "Σ w_c⊙x": ex.evidence.reshape(10, -1).sum(1), "b_c": ex.bias, "z_c": ex.logits}
    )
    with st.expander("The sums for all ten classes"):
        st.dataframe(table, hide_index=True, column_config=_floats(table, "%.4f"))


def _floats(df: pd.DataFrame, fmt: str) -> dict:
    return {c: st.column_config.NumberColumn(format=fmt) for c in df.columns if c != "class"}


def step_probabilities(ex: Explanation, classes) -> None:
    _heading("2. Logits to probabilities", r"p_c = \mathrm{softmax}(z)_c = \frac{e^{z_c}}{\sum_{j=1}^{10} e^{z_j}}")
    e = np.exp(ex.logits.astype(np.float64))
    k = ex.pred
    st.latex(
        rf"\begin{{aligned}} p_{{{k}}} &= \frac{{e^{{{_num(ex.logits[k])}}}}}{{{_num(e.sum())}}} \\"
        rf" &= \frac{{{_num(e[k])}}}{{{_num(e.sum())}}} = {_num(ex.probs[k])} \end{{aligned}}"
    )
    left, right = st.columns([2, 3], gap="large")
    with left:
        table = pd.DataFrame({"class": list(classes), "z_c": ex.logits, "exp(z_c)": e, "p_c": ex.probs})
        st.dataframe(
            table,
            hide_index=True,
            key="inside-probs",
            column_config={
                "z_c": st.column_config.NumberColumn(format="%.4f"),
                "exp(z_c)": st.column_config.NumberColumn(format="%.4g"),
                "p_c": st.column_config.NumberColumn(format="%.6f"),
            },
        )
        st.caption(f"The ten probabilities add up to {float(ex.probs.sum()):.6f}.")
    with right:
        t = st.select_slider(
            "Temperature T",
            TEMPERATURES,
            format_func=lambda v: f"{v:g}",
            **state.bind(state.INSIDE_TEMPERATURE, DEFAULTS["t"]),
        )
        p_t = softmax_with_temperature(torch.from_numpy(ex.logits), t).numpy()
        st.altair_chart(
            value_bars(classes, p_t, f"softmax(z / {t:g})", "probability", fmt=".1%", highlight=k, top=1.0),
            width="stretch",
        )
        st.caption(
            "Dividing the logits by T before softmax: T < 1 sharpens (the top class takes almost everything), "
            "T > 1 flattens towards 10% each. The order never changes, so neither does the prediction. T = 1 is "
            "the model's own softmax."
        )


@needs_label("The loss", "3. Where is softmax? The loss", r"L = -\log p_y = -z_y + \log \sum_{j} e^{z_j}")
def step_loss(ex: Explanation, classes) -> None:
    y = ex.label
    st.latex(rf"y = {y}: \quad L = -\log {_num(ex.probs[y])} = {_num(ex.loss)}")
    cols = st.columns(3)
    for col, (call, key) in zip(cols, LOSS_WAYS, strict=True):
        col.metric(call, f"{ex.losses[key]:.6f}")
    st.markdown(
        "Three ways, computed live with torch on this image's logits, and equal (in float64; in float32 they can differ in the 7th digit). "
        "**The model returns logits; training never calls softmax.** It minimises `F.cross_entropy(z, y)` on the "
        "logits, which is `log_softmax` followed by `nll_loss`, done in one stable step (next section). This app "
        "calls softmax only to *show* probabilities. The third way, softmax first and the log after, is the "
        "one to avoid: where p_y rounds to 0 it gives an infinite loss."
    )


def step_stability(ex: Explanation, classes) -> None:
    _heading("4. Why is it stable? The log-sum-exp trick", r"\mathrm{softmax}(z + c) = \mathrm{softmax}(z)", LSE_LATEX)
    z_max = float(ex.logits.max())
    limit = FLOAT32_EXP_LIMIT - z_max
    c = st.slider(
        "Add c to every logit (changes no probability)",
        *SHIFT_RANGE,
        step=1,
        **state.bind(state.INSIDE_SHIFT, DEFAULTS["shift"], on_change=lambda: state.record_event("moved_shift")),
    )
    demo = stability_demo(ex.logits, float(c))
    k = ex.pred
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Naive, float32:** `exp(z) / sum(exp(z))`")
        st.dataframe(
            pd.DataFrame(
                {
                    "class": list(classes),
                    "z_c + c": _as_text(demo.logits),
                    "exp(z_c + c)": _as_text(demo.exp_naive),
                    "p_c": _as_text(demo.naive),
                }
            ),
            hide_index=True,
            key="inside-naive",
        )
        if demo.naive_broke:
            if "moved_shift" in state.events():
                # The lesson's "break the naive softmax": done once the learner has moved the shift until it
                # broke (the page opens at a shift that already breaks it, which proves nothing about them).
                state.record_event("saw_overflow")
            why = (
                f"exp overflows to inf above {FLOAT32_EXP_LIMIT:.2f} (the largest float32 is 3.4 × 10³⁸), and inf / inf is NaN"
                if np.isinf(demo.exp_naive).any()
                else "every exp rounds to 0, and 0 / 0 is NaN"
            )
            st.error(f"Broken: p_{k} = {demo.naive[k]} — {why}.", icon=":material/error:")
        else:
            st.success(f"Works here: p_{k} = {demo.naive[k]:.6f}.", icon=":material/check_circle:")
    with right:
        st.markdown("**Stable (log-sum-exp):** `exp(z - m) / sum(exp(z - m))`")
        st.dataframe(
            pd.DataFrame(
                {
                    "class": list(classes),
                    "z_c + c − m": _as_text(demo.logits - demo.logits.max()),
                    "exp(z_c + c − m)": _as_text(demo.exp_stable),
                    "p_c": _as_text(demo.stable),
                }
            ),
            hide_index=True,
            key="inside-stable",
        )
        st.success(
            f"Always works: p_{k} = {demo.stable[k]:.6f}, log Σ exp = {demo.log_sum_exp:.4f}.",
            icon=":material/check_circle:",
        )
    st.caption(
        f"For this image the largest logit is {z_max:.2f}, so the naive form breaks once c > {limit:.1f} "
        f"(z_max + c > ln(3.4 × 10³⁸) = {FLOAT32_EXP_LIMIT:.2f}), and below about c = {FLOAT32_EXP_FLOOR - z_max:.0f} "
        "where even the largest exp rounds to 0. Subtracting the maximum first makes the largest term e⁰ = 1: "
        "nothing can overflow, and the sum is at least 1. `F.cross_entropy` and `F.log_softmax` do this inside."
    )


@needs_label("The gradient", "5. The gradient", r"\frac{\partial L}{\partial z_c} = p_c - \mathbb{1}[c = y]")
def step_gradient(ex: Explanation, classes) -> None:
    y = ex.label
    st.altair_chart(
        value_bars(classes, ex.grad_logits, "∂L/∂z = p − onehot(y)", "gradient", fmt="+.4f", highlight=y),
        width="stretch",
    )
    st.caption(
        f"Negative only for the true class y = {y} ({plain(classes[y])}): p_y − 1. A gradient step lowers every "
        "logit by lr × its gradient, so it raises z_y and lowers the others in proportion to their probability. "
        "The bars add up to 0."
    )
    if ex.grad_weights is None:
        return
    st.latex(r"\frac{\partial L}{\partial W_c} = (p_c - \mathbb{1}[c = y])\, x")
    st.latex(r"\frac{\partial L}{\partial b_c} = p_c - \mathbb{1}[c = y]")
    grid = _grid(-ex.grad_weights, classes)
    st.image(grid, width=min(grid.shape[1], 900))
    st.caption(
        "−∂L/∂W_c, the direction a step moves each template: blue where a weight goes up. The true class's "
        "template is pushed towards this image (it gains a copy of x), every other one away from it, "
        "by p_c: the classes the model wrongly found likely change most."
    )


def _take_step(key: tuple, clf: Classifier, pixels, label: int, lr: float) -> None:
    st.session_state[state.INSIDE_STEP] = (key, sgd_step(clf, pixels, label, lr))


@needs_label(
    "A step of gradient descent",
    "6. One SGD step",
    r"\begin{aligned} W &\leftarrow W - \eta\, \frac{\partial L}{\partial W} \\"
    r" b &\leftarrow b - \eta\, \frac{\partial L}{\partial b} \end{aligned}",
)
def step_sgd(ex: Explanation, clf: Classifier, picked: Picked, model_key: tuple) -> None:
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    with c1:
        lr = st.select_slider(
            "Learning rate η",
            STEP_LEARNING_RATES,
            format_func=lambda v: f"{v:g}",
            **state.bind(state.INSIDE_LR, DEFAULTS["step_lr"]),
        )
    key = (model_key, picked.key, ex.label, lr)
    with c2:
        st.button(
            "Take one step on this image",
            icon=":material/footprint:",
            key=state.INSIDE_STEP_BUTTON,
            on_click=_take_step,
            args=(key, clf, ex.pixels, ex.label, lr),
        )
    memo = st.session_state.get(state.INSIDE_STEP)
    if memo is None or memo[0] != key:
        st.caption("The step is applied to a copy of the model, never to the active model itself.")
        return
    step = memo[1]
    b, a = step.before, step.after
    m1, m2, m3 = st.columns(3)
    m1.metric("loss before", f"{b.loss:.4f}")
    m2.metric("loss after one step", f"{a.loss:.4f}", delta=f"{a.loss - b.loss:+.4f}", delta_color="inverse")
    m3.metric(
        f"p_{ex.label} (true class)",
        f"{a.probs[ex.label]:.2%}",
        delta=f"{(a.probs[ex.label] - b.probs[ex.label]) * 100:+.2f} pts",
    )
    table = pd.DataFrame(
        {"class": list(clf.classes), "z before": b.logits, "z after": a.logits, "p before": b.probs, "p after": a.probs}
    )
    st.dataframe(table, hide_index=True, column_config=_floats(table, "%.4f"))
    st.caption(
        f"One step of η = {lr:g} on this one image, on a copy of the model: the active model is unchanged. "
        "A large η overshoots: the loss on this image may even go up, which is what makes a whole run diverge."
    )
