"""Altair charts several pages share: the learning curves and their reference lines, the confusion matrix,
bar charts. Pixel helpers (numpy, Pillow) are in pictures.py. A chart only one page draws lives in that page's
package (browse_page/calibration.py's reliability diagram, softmax_page/inside.py's value bars,
train_page/divergence.py's loss chart): it is built from that page's objects, and its tests sit with it."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from fmnist_lib import CLASSES, EpochStats

# Reference accuracies drawn on every accuracy chart (Fashion-MNIST benchmark figures), each with
# where it comes from (the charts' tooltips; the Train page's caption says the same).
REFERENCES = (
    ("chance (10%)", 0.10, "guessing one of the 10 classes at random"),
    (
        "human (83.5%)",
        0.835,
        "Zalando's crowd-sourced test: people without fashion expertise labelled 1,000 randomly sampled "
        "test images, 3 labels per image, majority vote",
    ),
    (
        "best linear classifier (84.2%)",
        0.842,
        "the best linear model (logistic regression) of Zalando's scikit-learn benchmark",
    ),
)
CHANCE = REFERENCES[0][1]
HUMAN = REFERENCES[1][1]
HUMAN_NOTE = (
    "The human figure is Zalando's crowd-sourced test: people with no fashion expertise labelled 1,000 "
    "randomly sampled test images, 3 labels per image, majority vote. It is below the best linear model "
    "because they saw each tiny greyscale image once, while a model learns the catalogue's own labelling "
    "habits (where a shirt ends and a T-shirt/top or a pullover begins) from 60,000 labelled examples."
)

# The plots' own height in pixels, whatever the number of runs: legends are drawn below it.
PLOT_HEIGHT = 220
# Longest legend label in pixels: the legend stays within a chart half a phone's width wide.
LEGEND_LABEL_LIMIT = 260
SPLIT_DASH = {"train accuracy": [1, 0], "test accuracy": [6, 3]}  # solid = training, dashed = test
# Runs' colours: Vega's tableau10, a categorical palette whose neighbours are far apart (the default
# ordinal-looking blues made two runs hard to tell apart). A run's colour follows its id, so it keeps it
# whichever runs it is compared with (ids 1 and 11 share one: at most 8 runs are kept, rarely that far apart).
RUN_PALETTE = (
    "#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
)  # fmt: skip


def run_colour(run_id: int) -> str:
    return RUN_PALETTE[(run_id - 1) % len(RUN_PALETTE)]


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


def history_csv(history: Sequence[EpochStats], settings: dict | None = None) -> bytes:
    """A run's history as plain CSV (pandas.read_csv and a spreadsheet open it as is), one row per epoch:
    the fields of EpochStats, then one column per setting ({"run": name, **config.to_dict()}), the same
    value on every row, so the file says which run it is and files of several runs can be stacked.

    A setting named like a stats column (TrainConfig.lr beside EpochStats.lr, the rate that epoch
    used) gets the prefix "config_"; values are kept to one line (a file name may hold a newline)."""
    rows = [e.to_dict() for e in history]
    stats = set(rows[0]) if rows else {f for f in EpochStats.__dataclass_fields__}
    columns = {(f"config_{k}" if k in stats else k): _one_line(v) for k, v in (settings or {}).items()}
    table = pd.DataFrame([{**row, **columns} for row in rows])
    return table.to_csv(index=False).encode()


def _one_line(value):
    """Text on one line (whitespace runs become one space); numbers and flags stay as they are."""
    return " ".join(value.split()) if isinstance(value, str) else value


def _references(y_lo: float) -> tuple[alt.Chart, list[alt.Chart]]:
    """Dotted lines at the reference accuracies that lie on the axis (y_lo to 100%), and their labels."""
    above = (True, False, True)  # human's label goes under its line: best linear is only 0.7 points higher
    ref = pd.DataFrame(
        [
            {"reference": n, "accuracy": v, "above": a, "source": src}
            for (n, v, src), a in zip(REFERENCES, above, strict=True)
            if v >= y_lo
        ]
    )
    # The same y scale as the curves' (drawn over these): without it this layer's scale would
    # include zero and widen a zoomed axis back to 0-100%.
    y = alt.Y("accuracy:Q", scale=alt.Scale(domain=[y_lo, 1]))
    tooltip = ["reference:N", alt.Tooltip("accuracy:Q", format=".1%"), alt.Tooltip("source:N", title="measured by")]
    rules = alt.Chart(ref).mark_rule(strokeDash=[2, 3], color="gray").encode(y=y, tooltip=tooltip)
    return rules, _reference_labels(ref, y, tooltip)


def _reference_labels(ref: pd.DataFrame, y: alt.Y, tooltip: list) -> list[alt.Chart]:
    """The reference lines' names, drawn over the curves (see _history_specs) on a white halo."""
    labels = []
    for side, dy in ((alt.datum.above, -6), (~alt.datum.above, 8)):
        chart = alt.Chart(ref).transform_filter(side)
        text = dict(align="left", dx=3, dy=dy, fontSize=10)
        encoding = dict(x=alt.value(0), y=y, text="reference:N", tooltip=tooltip)
        # A white outline under the grey text keeps the label readable where it crosses a curve.
        labels.append(chart.mark_text(**text, color="white", stroke="white", strokeWidth=3).encode(**encoding))
        labels.append(chart.mark_text(**text, color="gray").encode(**encoding))
    return labels


def zoomed_floor(rows: Sequence[dict]) -> float:
    """The bottom of a zoomed accuracy axis: a little below the lowest accuracy plotted (and the human
    line, so the two benchmark lines stay in view), rounded down to 5%; 0 when there is nothing yet."""
    values = [r[k] for r in rows for k in ("train accuracy", "test accuracy") if r.get(k) is not None]
    if not values:
        return 0.0
    low = min(min(values), HUMAN) - 0.02
    return max(0.0, math.floor(low * 20) / 20)


def accuracy_subtitle(y_lo: float) -> str:
    """The accuracy chart's note on its axis: what a zoomed axis leaves out."""
    if y_lo <= CHANCE:
        return ""
    return f"Axis from {y_lo:.0%}: chance (10%) is far below."


HISTORY_DATA = "history"  # name of the dataset the history specs read


def _legend(**kwargs) -> alt.Legend:
    return alt.Legend(orient="bottom", direction="vertical", labelLimit=LEGEND_LABEL_LIMIT, **kwargs)


@functools.lru_cache(maxsize=64)
def _history_specs(several: bool, max_epoch: int, y_lo: float = 0.0) -> tuple[str, str]:
    """The loss and accuracy charts as Vega-Lite JSON, built with Altair once per shape.

    The data is a named dataset filled in per redraw, so a redraw during training costs
    a copy of a small dict instead of building and validating an Altair chart again.
    """
    data = alt.NamedData(name=HISTORY_DATA)
    x = alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[1, max(2, max_epoch)]), axis=alt.Axis(tickMinStep=1))
    run_colour = alt.Color("run:N", title="run", legend=_legend())
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
            color=run_colour if several else alt.value("#e45756"),
            tooltip=["run:N", "epoch:Q", alt.Tooltip("train loss:Q", format=".4f")],
        )
        .properties(title=alt.TitleParams("Training loss", subtitle="cross-entropy, lower is better"))
    )
    split_legend = alt.Legend(orient="bottom", title=None, labelExpr="replace(datum.label, ' accuracy', '')")
    if several:
        # Colour = run (named under the loss chart beside this one); dashes = split, and the legend
        # draws the dashes themselves (a line symbol, not the points' circles).
        colour = alt.Color("run:N", legend=None)
        dash = alt.StrokeDash(
            "split:N",
            scale=alt.Scale(domain=list(SPLIT_DASH), range=list(SPLIT_DASH.values())),
            legend=alt.Legend(
                orient="bottom",
                direction="horizontal",
                title=None,
                symbolType="stroke",
                symbolStrokeWidth=2,
                symbolSize=400,
                symbolStrokeColor="#555",
                labelExpr="replace(datum.label, ' accuracy', '') + (datum.label == 'test accuracy' ? "
                "' (dashed)' : ' (solid)')",
            ),
        )
    else:
        colour = alt.Color(
            "split:N",
            title=None,
            scale=alt.Scale(domain=list(SPLIT_DASH), range=["#f58518", "#4c78a8"]),
            legend=split_legend,
        )
        dash = alt.value([1, 0])
    base = (
        alt.Chart(data)
        .transform_fold(list(SPLIT_DASH), as_=["split", "accuracy"])
        .encode(
            x=x,
            y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[y_lo, 1]), axis=alt.Axis(format="%")),
            color=colour,
            tooltip=["run:N", "epoch:Q", "split:N", alt.Tooltip("accuracy:Q", format=".2%")],
        )
    )
    # Lines and points in separate layers: with mark_line(point=True) the legend draws the points
    # (two identical dots) instead of the dashes.
    lines = base.mark_line().encode(strokeDash=dash)
    points = base.mark_point(filled=True, size=30)
    # The reference lines are drawn first, under the curves; their labels last, over them (a curve drawn
    # across a label made it unreadable), each on a white halo.
    subtitle = accuracy_subtitle(y_lo)
    title = alt.TitleParams("Accuracy (training and test)", **({"subtitle": subtitle} if subtitle else {}))
    rules, labels = _references(y_lo)
    acc = alt.layer(rules, lines, points, *labels).properties(title=title)
    specs = []
    for chart in (loss, acc):
        spec = chart.properties(height=PLOT_HEIGHT, padding={"top": 12, "left": 5, "right": 5, "bottom": 5}).to_dict(
            validate=False  # the charts are fixed by this code (tested); validating them costs most of the time
        )
        # fit-x: the width follows the column, the height is the plot's own; legends are added below
        # it (Streamlit's default, fit, would squeeze the plot to make room for a long legend).
        spec["autosize"] = {"type": "fit-x", "contains": "padding"}
        specs.append(json.dumps(spec))
    return specs[0], specs[1]


def history_specs(
    named_histories: Sequence[tuple[str, Sequence[EpochStats]]],
    max_epoch: int | None = None,
    zoom: bool = True,
    run_ids: Sequence[int] | None = None,
) -> tuple[dict, dict]:
    """Vega-Lite specs (built with Altair) of the training loss and the training/test accuracy per
    epoch, with reference lines. One run: colour = train/test. Several: colour = run, dash = split.
    The accuracy axis starts just below the curves (zoomed_floor), showing the reference lines that
    fall on it, or with zoom=False runs from 0 to 100%. Plots are PLOT_HEIGHT px high whatever the
    number of runs; run_ids (one per history) give each run its colour (run_colour). Draw them with
    st.vega_lite_chart."""
    rows = history_rows(named_histories)
    names = [name for name, _ in named_histories]
    ids = list(run_ids) if run_ids is not None else list(range(1, len(names) + 1))
    run_scale = {"domain": names, "range": [run_colour(i) for i in ids]}
    y_lo = zoomed_floor(rows) if zoom else 0.0
    last = max([max_epoch or 1] + [r["epoch"] for r in rows])
    specs = []
    for text in _history_specs(len(named_histories) > 1, int(last), y_lo):
        spec = json.loads(text)
        spec["datasets"] = {**spec.get("datasets", {}), HISTORY_DATA: rows}
        _set_run_scale(spec, run_scale)
        specs.append(spec)
    return specs[0], specs[1]


def _set_run_scale(node, scale: dict) -> None:
    """Give every colour-by-run encoding in a spec the run palette (the cached spec is per shape, not per run)."""
    if isinstance(node, dict):
        colour = node.get("color")
        if isinstance(colour, dict) and colour.get("field") == "run":
            colour["scale"] = scale
        for value in node.values():
            _set_run_scale(value, scale)
    elif isinstance(node, list):
        for value in node:
            _set_run_scale(value, scale)


CONFUSION_ROW = 30  # px: the height of a row of cells, whatever the chart's width
CONFUSION_FONT = 10  # px: a count of 3 digits is ~17 px wide, within the ~26 px cells of a 390 px phone


def confusion_chart(matrix: np.ndarray, classes: Sequence[str] = CLASSES, selection_name: str = "cell") -> alt.Chart:
    """Heatmap of counts [true, predicted]; clicking (or tapping) a cell selects (true, predicted).

    It fills its container's width, so on a 390 px phone it is ~360 px wide: the colour legend sits
    below the matrix (beside it, it took a third of that width), the counts are 10 px and zeros are
    left blank, so every count fits inside its ~26 px cell. A tap selects a cell; a mouse over a
    cell or its count shows the cell's tooltip.
    """
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
                    "label": f"{count}" if count else "",
                    "share": count / totals[t] if totals[t] else 0.0,
                    "diagonal": t == p,
                }
            )
    df = pd.DataFrame(rows)
    order = list(classes)
    pick = alt.selection_point(name=selection_name, fields=["true", "predicted"], on="click", clear="dblclick")
    labels = {"labelOverlap": False, "labelFontSize": CONFUSION_FONT + 1, "labelLimit": 90}
    base = alt.Chart(df).encode(
        x=alt.X("predicted:N", sort=order, title="predicted class", axis=alt.Axis(labelAngle=-60, **labels)),
        y=alt.Y("true:N", sort=order, title="true class", axis=alt.Axis(**labels)),
        tooltip=["true:N", "predicted:N", "count:Q", alt.Tooltip("share:Q", format=".1%")],  # on the count too
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            "share:Q",
            title="share of the true class",
            scale=alt.Scale(scheme="blues", domain=[0, 1]),
            legend=alt.Legend(orient="bottom", direction="horizontal", format="%", gradientLength=160),
        ),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
    )
    text = base.mark_text(fontSize=CONFUSION_FONT).encode(
        text="label:N",
        color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("black")),
    )
    return (cells + text).add_params(pick).properties(height=alt.Step(CONFUSION_ROW))


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
