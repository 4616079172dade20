"""lab_ui.charts without a browser: the history charts' specs and the history CSV."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from fmnist_lib import EpochStats
from lab_ui import charts


def history(n: int = 3, low: float = 0.78) -> list[EpochStats]:
    return [EpochStats(e, 1.0 / e, low + 0.01 * e, low + 0.005 * e, 0.1, 6e5, 60_000) for e in range(1, n + 1)]


def runs(k: int) -> list[tuple[str, list[EpochStats]]]:
    return [(f"#{i} Softmax regression · SGD lr 0.1 · seed {i}", history()) for i in range(1, k + 1)]


def layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def test_the_plots_keep_their_height_whatever_the_number_of_runs():
    for k in (1, 2, 4, 8):
        for spec in charts.history_specs(runs(k)):
            assert spec["height"] == charts.PLOT_HEIGHT
            # fit-x: Vega adds the legend below the plot instead of squeezing the plot to make room
            assert spec["autosize"]["type"] == "fit-x"


def test_the_legend_of_several_runs_draws_the_dashes_of_train_and_test():
    _, acc = charts.history_specs(runs(4))
    (line,) = [layer for layer in layers(acc) if layer.get("mark", {}).get("type") == "line"]
    dash = line["encoding"]["strokeDash"]
    assert dash["legend"]["symbolType"] == "stroke", "a line symbol, not the points' circles"
    assert not line["mark"].get("point"), "points on the line mark would make the legend draw dots"
    patterns = dash["scale"]["range"]
    assert len(patterns) == 2 and patterns[0] != patterns[1]


def test_legends_fit_a_phone_wide_chart():
    loss, acc = charts.history_specs(runs(4))
    legend = loss["encoding"]["color"]["legend"]
    assert legend["orient"] == "bottom" and legend["direction"] == "vertical"  # one run per line, not side by side
    assert legend["labelLimit"] <= 260  # a chart on a 390 px phone is ~350 px wide


def _acc_domain(acc: dict) -> list[float]:
    (line,) = [layer for layer in layers(acc) if layer.get("mark", {}).get("type") == "line"]
    return line["encoding"]["y"]["scale"]["domain"]


def test_the_accuracy_axis_is_zoomed_by_default_and_names_chance_in_a_note():
    _, acc = charts.history_specs(runs(1))
    low = _acc_domain(acc)[0]
    assert 0.5 < low < 0.78
    assert "chance (10%)" in acc["title"]["subtitle"]
    _, full = charts.history_specs(runs(1), zoom=False)
    assert _acc_domain(full)[0] == 0.0 and "subtitle" not in full["title"]


def test_the_reference_lines_say_how_they_were_measured():
    sources = " ".join(src for _, _, src in charts.REFERENCES)
    assert "1,000" in sources and "3 labels" in sources
    assert "1,000" in charts.HUMAN_NOTE and "below the best linear model" in charts.HUMAN_NOTE
    _, acc = charts.history_specs(runs(1))
    rules = [layer for layer in layers(acc) if layer.get("mark", {}).get("type") == "rule"]
    assert rules and any(t.get("field") == "source" for t in rules[0]["encoding"]["tooltip"])


def test_the_history_csv_says_which_run_it_is_and_pandas_skips_the_header():
    settings = {"run": "#2 Softmax regression · Adam lr 0.001", "optimizer": "adam", "batch_size": 64, "seed": 7}
    text = charts.history_csv(history(3), settings).decode()
    assert "# optimizer: adam\n" in text and "# seed: 7\n" in text and "# batch_size: 64\n" in text
    table = pd.read_csv(io.StringIO(text), comment="#")
    assert list(table["epoch"]) == [1, 2, 3]
    assert table["test_acc"].iloc[-1] == pytest.approx(0.795)


def test_a_setting_with_a_newline_stays_in_its_comment():
    text = charts.history_csv(history(1), {"run": "loaded from a\nb.pt"}).decode()
    assert text.splitlines()[0] == "# run: loaded from a b.pt"
    assert len(pd.read_csv(io.StringIO(text), comment="#")) == 1
