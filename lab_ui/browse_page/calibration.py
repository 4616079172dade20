"""Browse's calibration section: how far to trust the active model's confidence.

A reliability diagram and the expected calibration error (ECE) on the 10,000 test images, before
and after temperature scaling (T fitted on one half of the test images and judged on the other,
fmnist_lib.analysis.calibrate), and a sentence on whether it helped and why.
Computed once per model state: the default model's once per server, a run's once per session.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from fmnist_lib import FashionMNIST, TrainingRun
from fmnist_lib.analysis import Calibration, Reliability, calibrate
from lab_ui import resources, state


def _calibrate(run: TrainingRun, data: FashionMNIST) -> Calibration:
    return calibrate(run.classifier(), data.test_images, data.test_labels)


def for_run(run: TrainingRun, run_id: int | None, data: FashionMNIST) -> Calibration:
    if run_id is None:
        return resources.default_calibration()

    def make() -> Calibration:
        with st.spinner("Measuring calibration on the test images…"):
            return _calibrate(run, data)

    return state.memo(state.CALIBRATION_MEMO, state.model_key(run_id, run), make)


def reliability_chart(rel: Reliability, title: str) -> alt.LayerChart:
    """Accuracy per confidence bin (bars, with the count on top), the mean confidence (ticks), the diagonal."""
    rows = [
        {
            "lo": float(rel.edges[b]),
            "hi": float(rel.edges[b + 1]),
            "mid": float(rel.edges[b] + rel.edges[b + 1]) / 2,
            "accuracy": float(rel.accuracy[b]),
            "confidence": float(rel.confidence[b]),
            "count": int(rel.counts[b]),
        }
        for b in range(len(rel.counts))
        if rel.counts[b] > 0
    ]
    df = pd.DataFrame(rows)
    pct = alt.Axis(format="%", values=[0, 0.2, 0.4, 0.6, 0.8, 1.0])
    x = alt.X("lo:Q", title="confidence (probability of the predicted class)", scale=alt.Scale(domain=[0, 1]), axis=pct)
    y = alt.Y("accuracy:Q", title="accuracy in the bin", scale=alt.Scale(domain=[0, 1]), axis=pct)
    tooltip = [
        alt.Tooltip("lo:Q", format=".0%", title="from"),
        alt.Tooltip("hi:Q", format=".0%", title="to"),
        "count:Q",
        alt.Tooltip("accuracy:Q", format=".1%"),
        alt.Tooltip("confidence:Q", format=".1%", title="mean confidence"),
    ]
    bars = (
        alt.Chart(df)
        .mark_rect(color="#4c78a8", opacity=0.85, stroke="white")
        .encode(x=x, x2="hi:Q", y=y, y2=alt.datum(0), tooltip=tooltip)
    )
    ticks = (
        alt.Chart(df)
        .mark_tick(color="#e45756", thickness=2, size=18)
        .encode(x=alt.X("mid:Q"), y=alt.Y("confidence:Q"), tooltip=tooltip)
    )
    # The counts sit at the foot of their bars, on a white halo: at the top they were covered by the red
    # ticks (a calibrated bin's mean confidence is its bar's height) and ran past the top of the axis.
    count_text = alt.Chart(df).encode(x="mid:Q", y=alt.datum(0), text="count:Q")
    counts = alt.layer(
        count_text.mark_text(dy=-7, fontSize=10, stroke="white", strokeWidth=3, color="white"),
        count_text.mark_text(dy=-7, fontSize=10, color="black"),
    )
    diagonal = (
        alt.Chart(pd.DataFrame({"lo": [0.0, 1.0], "accuracy": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="lo:Q", y="accuracy:Q")
    )
    return alt.layer(diagonal, bars, ticks, counts).properties(title=title, height=300)


def verdict(rel: Reliability) -> str:
    """One sentence on the bin holding the most predictions: over-confident, under-confident or about right."""
    b = int(rel.counts.argmax())
    acc, conf, n = float(rel.accuracy[b]), float(rel.confidence[b]), int(rel.counts[b])
    gap = conf - acc
    kind = "over-confident" if gap > 0.01 else "under-confident" if gap < -0.01 else "about right"
    return (
        f"Of the {n:,} test predictions made with {rel.edges[b]:.0%}–{rel.edges[b + 1]:.0%} confidence "
        f"(mean {conf:.1%}), {acc:.1%} were right: there the model is {kind}."
    )


# ECE gained or lost below this (0.2 points) is within the spread of a 10,000-image measurement
# (a bootstrap s.d. of ~0.25 points for the default model: bench/results/calibration.md).
MEANINGFUL_ECE_CHANGE = 0.002


def temperature_verdict(cal: Calibration) -> str:
    """Whether temperature scaling helped this model, with its numbers, and why not when it did not."""
    t = f"T = {cal.temperatures[0]:.2f} and {cal.temperatures[1]:.2f} on the two halves"
    change = f"the ECE went from {cal.before.ece:.2%} to {cal.after.ece:.2%} ({t})"
    if cal.before.ece - cal.after.ece >= MEANINGFUL_ECE_CHANGE:
        return f"**Temperature scaling helps here:** {change}."
    if cal.before.ece <= 1.5 * cal.floor:
        why = (
            f"a perfectly calibrated model exactly as confident would still show an ECE of about {cal.floor:.2%} "
            "on 10,000 test images in 10 bins, so this model is already calibrated to within what the test set "
            "can measure, and no T can do better than the noise"
        )
    else:
        why = (
            "one number T can only make every prediction surer or less sure; this model is off in different "
            "directions in different bins (see the bars on either side of the diagonal), which one T cannot undo"
        )
    return f"**Temperature scaling does not help here:** {change}. Why: {why}."


def draw(run: TrainingRun, run_id: int | None, data: FashionMNIST) -> None:
    st.subheader("How far to trust its confidence")
    state.record_event("opened:reliability")  # drawn at the bottom of Browse: the lesson's check counts it
    cal = for_run(run, run_id, data)
    m1, m2, m3 = st.columns(3)
    m1.metric("Expected calibration error", f"{cal.before.ece:.2%}")
    m2.metric(
        "Fitted temperature T",
        f"{cal.temperature:.2f}",
        help=f"{cal.temperatures[0]:.3f} fitted on the even-numbered test images, {cal.temperatures[1]:.3f} on the "
        "odd-numbered ones (their geometric mean shown).",
    )
    m3.metric(
        "ECE after dividing the logits by T",
        f"{cal.after.ece:.2%}",
        delta=f"{(cal.after.ece - cal.before.ece) * 100:+.2f} pts",
        delta_color="inverse",
    )
    left, right = st.columns(2, gap="large")
    left.altair_chart(reliability_chart(cal.before, "Reliability on the 10,000 test images"), width="stretch")
    right.altair_chart(
        reliability_chart(cal.after, f"The same after temperature scaling (T = {cal.temperature:.2f})"), width="stretch"
    )
    st.markdown(verdict(cal.before))
    st.markdown(temperature_verdict(cal))
    st.caption(
        "Each bar: the test predictions whose confidence fell in that 10% bin (the count on top) and how many "
        "of them were right; red ticks: their mean confidence. A calibrated model sits on the dashed diagonal "
        "(right 90% of the time when it says 90%). **Over-confidence** looks like bars below the diagonal: "
        "the model says 95% and is right 85% of the time. The expected calibration error is the gap between "
        "bar and diagonal, averaged over the predictions. Temperature scaling divides every logit by one "
        "number T, chosen to minimise the loss; T > 1 makes the model less sure, T < 1 surer. It never changes "
        f"a prediction, only how sure it sounds. T is fitted on {cal.fit_images:,} test images and judged on the "
        f"other {cal.fit_images:,}, both ways round. Fitted on training images (as this page once did) T came out "
        "below 1 for every model, because a model is surer of the images it trained on, and sharpening made the "
        "default model's ECE worse (1.02% → 1.50%) and the CNN's (0.79% → 1.73%; its best T is about 1.1). Test loss {cal.test_loss_before:.4f} → "
        f"{cal.test_loss_after:.4f}."
    )
