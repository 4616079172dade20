"""The Train page's view of a diverged run: the per-step loss of the epoch that blew up, and the guard."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from fmnist_lib.loop import DivergedEpoch

CHANCE_LOSS = math.log(10)  # the loss of a model that gives each of the 10 classes 10%


def guard_sentence(threshold: float) -> str:
    return (
        f"The guard stops a run as soon as one batch's mean loss is NaN, infinite or above {threshold:g}: a loss of "
        f"{threshold:g} means the right class got a probability of e^−{threshold:g} ≈ {math.exp(-threshold):.0e}, "
        f"far worse than guessing (a loss of ln 10 ≈ {CHANCE_LOSS:.2f}), which only a run whose steps overshoot reaches."
    )


def loss_chart(failed: DivergedEpoch) -> alt.LayerChart:
    """Per-step loss on a log axis, the guard's threshold and the chance level; the step that was not finite
    (NaN or inf cannot be drawn) marked by a red rule."""
    rows = [
        {"step": failed.first_step + i + 1, "loss": v if math.isfinite(v) and v > 0 else None}
        for i, v in enumerate(failed.losses)
    ]
    df = pd.DataFrame(rows)
    top = max([failed.threshold * 3] + [r["loss"] for r in rows if r["loss"] is not None])
    y = alt.Y("loss:Q", title="batch loss (log scale)", scale=alt.Scale(type="log", domain=[0.1, top]))
    x = alt.X("step:Q", title="step", axis=alt.Axis(tickMinStep=1))
    line = (
        alt.Chart(df)
        .mark_line(point=alt.OverlayMarkDef(color="#e45756"), color="#e45756")
        .encode(x=x, y=y, tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4g")])
    )
    refs = pd.DataFrame(
        [
            {"loss": failed.threshold, "what": f"guard: {failed.threshold:g}"},
            {"loss": CHANCE_LOSS, "what": "chance: ln 10"},
        ]
    )
    rules = alt.Chart(refs).mark_rule(strokeDash=[4, 4], color="gray").encode(y=alt.Y("loss:Q"))
    labels = (
        alt.Chart(refs)
        .mark_text(align="left", dx=3, dy=-6, color="gray")
        .encode(x=alt.value(0), y=alt.Y("loss:Q"), text="what:N")
    )
    layers = [rules, labels, line]
    last = failed.losses[-1] if failed.losses else 0.0
    if not math.isfinite(last):
        bad = pd.DataFrame(
            [{"step": failed.first_step + len(failed.losses), "what": "NaN" if math.isnan(last) else "inf"}]
        )
        layers.append(alt.Chart(bad).mark_rule(color="#e45756", strokeWidth=2).encode(x="step:Q"))
        layers.append(
            alt.Chart(bad).mark_text(align="right", dx=-4, y=12, color="#e45756").encode(x="step:Q", text="what:N")
        )
    return alt.layer(*layers).properties(
        title=f"Epoch {failed.epoch}, step by step, until the guard stopped it", height=260
    )


def draw(failed: DivergedEpoch | None) -> None:
    """The failed epoch's losses and the guard's rule (nothing when the run did not diverge)."""
    if failed is None or not failed.losses:
        return
    st.altair_chart(loss_chart(failed), width="stretch")
    st.caption(guard_sentence(failed.threshold))
