"""Altair charts and small image helpers (numpy only) used by the pages."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from fmnist_lib import CLASSES, EpochStats

# Reference accuracies drawn on every accuracy chart (Fashion-MNIST benchmark figures).
REFERENCES = (
    ("chance (10%)", 0.10),
    ("human (83.5%)", 0.835),
    ("best linear classifier (84.2%)", 0.842),
)


def history_rows(named_histories: Sequence[tuple[str, Sequence[EpochStats]]]) -> list[dict]:
    """One row per (run, epoch): the data of the history charts."""
    return [
        {
            "run": name,
            "epoch": e.epoch,
            "train loss": e.train_loss,
            "train accuracy": e.train_acc,
            "test accuracy": e.test_acc,
        }
        for name, history in named_histories
        for e in history
    ]


def history_csv(history: Sequence[EpochStats]) -> bytes:
    """A run's history as CSV, one row per epoch, with the field names of EpochStats."""
    return pd.DataFrame([e.to_dict() for e in history]).to_csv(index=False).encode()


def _references(y_lo: float) -> alt.LayerChart:
    """Dotted lines at the reference accuracies that lie on the axis (y_lo to 100%), each labelled."""
    above = (True, False, True)  # human's label goes under its line: best linear is only 0.7 points higher
    ref = pd.DataFrame(
        [{"reference": n, "accuracy": v, "above": a} for (n, v), a in zip(REFERENCES, above, strict=True) if v >= y_lo]
    )
    # The same y scale as the curves' (drawn over these): without it this layer's scale would
    # include zero and widen a zoomed axis back to 0-100%.
    y = alt.Y("accuracy:Q", scale=alt.Scale(domain=[y_lo, 1]))
    rules = (
        alt.Chart(ref)
        .mark_rule(strokeDash=[2, 3], color="gray")
        .encode(y=y, tooltip=["reference:N", alt.Tooltip("accuracy:Q", format=".1%")])
    )
    labels = []
    for side, dy in ((alt.datum.above, -6), (~alt.datum.above, 8)):
        chart = alt.Chart(ref).transform_filter(side)
        text = dict(align="left", dx=3, dy=dy, fontSize=10)
        encoding = dict(x=alt.value(0), y=y, text="reference:N")
        # A white outline under the grey text keeps the label readable where it crosses a curve.
        labels.append(chart.mark_text(**text, color="white", stroke="white", strokeWidth=3).encode(**encoding))
        labels.append(chart.mark_text(**text, color="gray").encode(**encoding))
    return alt.layer(rules, *labels)


def zoomed_floor(rows: Sequence[dict]) -> float:
    """The bottom of a zoomed accuracy axis: a little below the lowest accuracy plotted (and the human
    line, so the two benchmark lines stay in view), rounded down to 5%; 0 when there is nothing yet."""
    values = [r[k] for r in rows for k in ("train accuracy", "test accuracy") if r.get(k) is not None]
    if not values:
        return 0.0
    low = min(min(values), REFERENCES[1][1]) - 0.02
    return max(0.0, math.floor(low * 20) / 20)


HISTORY_DATA = "history"  # name of the dataset the history specs read


@functools.lru_cache(maxsize=64)
def _history_specs(several: bool, max_epoch: int, height: int, y_lo: float = 0.0) -> tuple[str, str]:
    """The loss and accuracy charts as Vega-Lite JSON, built with Altair once per shape.

    The data is a named dataset filled in per redraw, so a redraw during training costs
    a copy of a small dict instead of building and validating an Altair chart again.
    """
    data = alt.NamedData(name=HISTORY_DATA)
    x = alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[1, max(2, max_epoch)]), axis=alt.Axis(tickMinStep=1))
    legend = alt.Legend(orient="bottom", columns=1, labelLimit=400)
    loss = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y(
                "train loss:Q",
                title="training loss (cross-entropy)",
                scale=alt.Scale(zero=False),
                axis=alt.Axis(format=".2f"),
            ),
            color=alt.Color("run:N", legend=legend) if several else alt.value("#e45756"),
            tooltip=["run:N", "epoch:Q", alt.Tooltip("train loss:Q", format=".4f")],
        )
        .properties(title="Training loss", height=height)
    )
    acc = (
        alt.Chart(data)
        .transform_fold(["train accuracy", "test accuracy"], as_=["split", "accuracy"])
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[y_lo, 1]), axis=alt.Axis(format="%")),
            color=(
                alt.Color("run:N", legend=legend)
                if several
                else alt.Color(
                    "split:N",
                    title=None,
                    scale=alt.Scale(domain=["train accuracy", "test accuracy"], range=["#f58518", "#4c78a8"]),
                    legend=alt.Legend(orient="bottom", labelExpr="replace(datum.label, ' accuracy', '')"),
                )
            ),
            strokeDash=(
                alt.StrokeDash(
                    "split:N",
                    title=None,
                    sort=["test accuracy", "train accuracy"],
                    legend=alt.Legend(orient="bottom", labelExpr="replace(datum.label, ' accuracy', '')"),
                )
                if several
                else alt.value([1, 0])
            ),
            tooltip=["run:N", "epoch:Q", "split:N", alt.Tooltip("accuracy:Q", format=".2%")],
        )
    )
    # Streamlit fits the whole chart, legend included, into `height`: the accuracy chart's legend
    # (train/test) gets its own room, so its plot is as tall as the loss chart's. The reference
    # lines and labels are drawn first, under the curves.
    acc_height = height if several else height + 34
    acc = (_references(y_lo) + acc).properties(title="Accuracy (training and test)", height=acc_height)
    loss = loss.properties(padding={"top": 12, "left": 5, "right": 5, "bottom": 5})
    acc = acc.properties(padding={"top": 12, "left": 5, "right": 5, "bottom": 5})
    return json.dumps(loss.to_dict()), json.dumps(acc.to_dict())


def history_specs(
    named_histories: Sequence[tuple[str, Sequence[EpochStats]]],
    max_epoch: int | None = None,
    height: int = 260,
    zoom: bool = False,
) -> tuple[dict, dict]:
    """Vega-Lite specs (built with Altair) of the training loss and the training/test accuracy per
    epoch, with reference lines. One run: colour = train/test. Several: colour = run, dash = split.
    The accuracy axis runs from 0 to 100%, or with zoom from just below the curves (zoomed_floor),
    showing the reference lines that fall on it. Draw them with st.vega_lite_chart."""
    rows = history_rows(named_histories)
    y_lo = zoomed_floor(rows) if zoom else 0.0
    last = max([max_epoch or 1] + [r["epoch"] for r in rows])
    specs = []
    several = len(named_histories) > 1
    if several:  # the legend (one line per run) takes its height from the chart's
        height += 30 + 22 * len(named_histories)
    for text in _history_specs(several, int(last), height, y_lo):
        spec = json.loads(text)
        spec["datasets"] = {**spec.get("datasets", {}), HISTORY_DATA: rows}
        specs.append(spec)
    return specs[0], specs[1]


def confusion_chart(matrix: np.ndarray, classes: Sequence[str] = CLASSES, selection_name: str = "cell") -> alt.Chart:
    """Heatmap of counts [true, predicted]; clicking a cell selects (true, predicted)."""
    n = len(classes)
    rows = []
    totals = matrix.sum(axis=1)
    for t in range(n):
        for p in range(n):
            count = int(matrix[t, p])
            rows.append(
                {
                    "true": classes[t],
                    "predicted": classes[p],
                    "count": count,
                    "share": count / totals[t] if totals[t] else 0.0,
                    "diagonal": t == p,
                }
            )
    df = pd.DataFrame(rows)
    order = list(classes)
    pick = alt.selection_point(name=selection_name, fields=["true", "predicted"], on="click", clear="dblclick")
    base = alt.Chart(df).encode(
        x=alt.X("predicted:N", sort=order, title="predicted class", axis=alt.Axis(labelAngle=-45, labelOverlap=False)),
        y=alt.Y("true:N", sort=order, title="true class", axis=alt.Axis(labelOverlap=False)),
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("share:Q", title="share of the true class", scale=alt.Scale(scheme="blues", domain=[0, 1])),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=["true:N", "predicted:N", "count:Q", alt.Tooltip("share:Q", format=".1%")],
    )
    text = base.mark_text(fontSize=11).encode(
        text="count:Q",
        color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("black")),
    )
    return (cells + text).add_params(pick).properties(height=420)


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, highlight: int | None = 0) -> alt.Chart:
    """Horizontal bars of probabilities (0..1), labelled as percentages, in the order given."""
    df = pd.DataFrame({"class": list(labels), "probability": list(values)})
    df["label"] = [f"{v:.1%}" for v in values]
    df["top"] = [i == highlight for i in range(len(df))]
    base = alt.Chart(df).encode(
        y=alt.Y("class:N", sort=list(labels), title=None, axis=alt.Axis(labelOverlap=False)),
        x=alt.X(
            "probability:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1]),
            title="probability",
        ),
    )
    bars = base.mark_bar().encode(
        color=alt.condition(alt.datum.top, alt.value("#1f77b4"), alt.value("#9ecae1")),
        tooltip=["class:N", alt.Tooltip("probability:Q", format=".2%")],
    )
    text = base.mark_text(align="left", dx=3).encode(text="label:N")
    return (bars + text).properties(title=title, height=alt.Step(24))


def per_class_chart(acc: np.ndarray, classes: Sequence[str] = CLASSES) -> alt.Chart:
    df = pd.DataFrame({"class": list(classes), "accuracy": acc})
    base = alt.Chart(df).encode(
        y=alt.Y("class:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
        x=alt.X(
            "accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1])
        ),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("accuracy:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0.4, 1]), legend=None),
        tooltip=["class:N", alt.Tooltip("accuracy:Q", format=".1%")],
    )
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("accuracy:Q", format=".1%"))
    return (bars + text).properties(title="Per-class test accuracy", height=alt.Step(26))


# --- images (numpy) --------------------------------------------------------------


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so 28x28 pixels stay crisp in the browser."""
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def diverging_rgb(values: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Map signed values to RGB uint8: blue = positive, red = negative, white = 0."""
    v = np.asarray(values, dtype=np.float32)
    if vmax is None:
        vmax = float(np.abs(v).max()) or 1.0
    t = np.clip(v / vmax, -1.0, 1.0)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    r = 1.0 - pos * 0.85
    g = 1.0 - 0.8 * np.maximum(pos, neg)
    b = 1.0 - neg * 0.85
    return (np.stack([r, g, b], axis=-1) * 255).round().astype(np.uint8)


def signed_images(maps: np.ndarray, factor: int = 4, shared_scale: bool = True) -> list[np.ndarray]:
    """A list of RGB images (one per map) on one colour scale, upscaled."""
    vmax = float(np.abs(maps).max()) or 1.0
    return [upscale(diverging_rgb(m, vmax if shared_scale else None), factor) for m in maps]


def labelled_grid(
    tiles: Sequence[np.ndarray], labels: Sequence[str], per_row: int = 5, label_px: int = 16
) -> np.ndarray:
    """Tiles (equal-size RGB uint8) in a grid with a label under each: ONE image, so a redraw
    during training sends one picture to the browser instead of ten."""
    from PIL import Image, ImageDraw

    h, w = tiles[0].shape[:2]
    pad = 6
    rows = (len(tiles) + per_row - 1) // per_row
    canvas = Image.new("RGB", (per_row * (w + pad) + pad, rows * (h + label_px + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(11)
    for k, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        x = pad + (k % per_row) * (w + pad)
        y = pad + (k // per_row) * (h + label_px + pad)
        canvas.paste(Image.fromarray(tile), (x, y))
        tw = draw.textlength(label, font=font)
        draw.text((x + (w - tw) / 2, y + h + 2), label, fill=(60, 60, 60), font=font)
    return np.asarray(canvas)


@functools.lru_cache(maxsize=4)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()
