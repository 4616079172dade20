"""lab_ui/charts.py without a script run: the history charts, the zoomed accuracy axis, the confusion matrix."""

from __future__ import annotations

import io
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from fmnist_lib import EpochStats, TrainConfig
from lab_ui import charts


def _history(*accs: tuple[float, float | None]) -> list[EpochStats]:
    """Epochs 1.. with the given (train accuracy, test accuracy)."""
    return [
        EpochStats(
            epoch=i, train_loss=1.0 / i, train_acc=tr, test_acc=te, seconds=0.1, examples_per_sec=1.0, examples=64
        )
        for i, (tr, te) in enumerate(accs, start=1)
    ]


def _rows(*accs) -> list[dict]:
    return charts.history_rows([("run", _history(*accs))])


def _curves(acc_spec: dict) -> dict:
    """The accuracy chart's layer of curves (the other layers are the reference lines and labels)."""
    (curves,) = [layer for layer in acc_spec["layer"] if layer.get("mark", {}).get("type") == "line"]
    return curves


def _references(spec: dict) -> set[str]:
    """The reference lines a spec carries data for."""
    return {
        row["reference"]
        for name, rows in spec["datasets"].items()
        if name != charts.HISTORY_DATA
        for row in rows
        if "reference" in row
    }


def test_zoomed_floor_is_0_without_accuracies():
    assert charts.zoomed_floor([]) == 0.0
    assert charts.zoomed_floor([{"train accuracy": None, "test accuracy": None}]) == 0.0


@pytest.mark.parametrize(
    "accs, floor",
    [
        ([(0.80, 0.78)], 0.75),  # 0.78 - 0.02 = 0.76, down to 5%
        ([(0.95, 0.92)], 0.80),  # above the human line (83.5%): it stays in view
        ([(0.30, None), (0.60, 0.55)], 0.25),  # the train accuracy counts when the test one is missing
        ([(0.03, 0.01)], 0.0),  # never below 0
    ],
)
def test_zoomed_floor_lies_below_the_curves_and_the_human_line(accs, floor):
    rows = _rows(*accs)
    assert charts.zoomed_floor(rows) == pytest.approx(floor)
    lowest = min(v for r in rows for v in (r["train accuracy"], r["test accuracy"]) if v is not None)
    assert charts.zoomed_floor(rows) <= min(lowest, charts.REFERENCES[1][1])


def test_history_specs_carry_the_rows_and_the_epoch_axis():
    named = [("softmax", _history((0.7, 0.68), (0.8, 0.79)))]
    loss, acc = charts.history_specs(named, max_epoch=10)
    rows = charts.history_rows(named)
    assert loss["datasets"][charts.HISTORY_DATA] == rows and acc["datasets"][charts.HISTORY_DATA] == rows
    assert loss["encoding"]["x"]["scale"]["domain"] == [1, 10]  # the planned epochs, not only those done
    assert _curves(acc)["encoding"]["x"]["scale"]["domain"] == [1, 10]


def test_one_run_is_coloured_by_split_several_by_run():
    one = [("a", _history((0.7, 0.68)))]
    two = one + [("b", _history((0.6, 0.58)))]
    _, acc = charts.history_specs(one)
    assert _curves(acc)["encoding"]["color"]["field"] == "split"
    _, acc = charts.history_specs(two)
    curves = _curves(acc)
    assert curves["encoding"]["color"]["field"] == "run" and curves["encoding"]["strokeDash"]["field"] == "split"


def test_the_accuracy_axis_is_0_to_100_unless_zoomed():
    named = [("a", _history((0.80, 0.78), (0.85, 0.83)))]
    _, acc = charts.history_specs(named, zoom=False)
    assert _curves(acc)["encoding"]["y"]["scale"]["domain"] == [0.0, 1]
    assert _references(acc) == {ref[0] for ref in charts.REFERENCES}

    _, zoomed = charts.history_specs(named, zoom=True)
    floor = charts.zoomed_floor(charts.history_rows(named))
    assert _curves(zoomed)["encoding"]["y"]["scale"]["domain"] == [floor, 1]
    assert _references(zoomed) == {ref[0] for ref in charts.REFERENCES if ref[1] >= floor}
    assert not any("chance" in r for r in _references(zoomed))


def test_specs_built_from_the_cache_do_not_share_data():
    """The specs of one shape are built once: each call must still get its own rows."""
    first = charts.history_specs([("a", _history((0.7, 0.68)))])
    second = charts.history_specs([("b", _history((0.5, 0.48)))])
    assert first[0]["datasets"][charts.HISTORY_DATA][0]["run"] == "a"
    assert second[0]["datasets"][charts.HISTORY_DATA][0]["run"] == "b"


def test_history_csv_has_a_row_per_epoch_with_the_stats_fields():
    lines = charts.history_csv(_history((0.7, 0.68), (0.8, None))).decode().splitlines()
    assert lines[0].split(",")[:5] == ["epoch", "train_loss", "train_acc", "test_acc", "seconds"]
    assert len(lines) == 3


def _confusion_spec() -> dict:
    matrix = np.array([[5, 0, 1], [2, 7, 0], [0, 0, 9]])
    return charts.confusion_chart(matrix, ["a", "b", "c"]).to_dict()


def test_the_confusion_matrix_keeps_its_rows_tall_and_its_legend_below_on_a_narrow_screen():
    spec = _confusion_spec()
    assert spec["height"] == {"step": charts.CONFUSION_ROW}  # rows as tall on a phone as on a desktop
    cells, counts = spec["layer"]
    # Beside the matrix the legend took a third of a phone's width; below it takes none.
    assert cells["encoding"]["color"]["legend"]["orient"] == "bottom"
    assert counts["mark"]["fontSize"] == charts.CONFUSION_FONT
    assert "tooltip" in cells["encoding"] and "tooltip" in counts["encoding"], "a tap on a count shows the cell"


def test_the_confusion_matrix_leaves_zeros_blank_and_selects_a_cell_by_its_classes():
    spec = _confusion_spec()
    (rows,) = spec["datasets"].values()
    labels = {(r["true"], r["predicted"]): r["label"] for r in rows}
    assert labels[("a", "a")] == "5" and labels[("a", "c")] == "1"
    assert labels[("a", "b")] == "" and labels[("c", "a")] == ""
    (param,) = spec["params"]
    assert param["select"] == {"type": "point", "fields": ["true", "predicted"], "on": "click", "clear": "dblclick"}


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


def test_the_history_csv_says_which_run_it_is_in_columns_a_plain_reader_opens():
    settings = {"run": "#2 Softmax regression · Adam lr 0.001", "optimizer": "adam", "batch_size": 64, "seed": 7}
    text = charts.history_csv(history(3), settings).decode()
    assert not any(line.startswith("#") for line in text.splitlines())  # no comment lines: plain CSV
    table = pd.read_csv(io.StringIO(text))  # no comment= needed, as a spreadsheet opens it
    assert list(table["epoch"]) == [1, 2, 3]
    assert table["test_acc"].iloc[-1] == pytest.approx(0.795)
    # The settings are columns, the same value on every row.
    assert list(table["run"]) == [settings["run"]] * 3
    assert list(table["optimizer"]) == ["adam"] * 3
    assert list(table["batch_size"]) == [64] * 3 and list(table["seed"]) == [7] * 3


def test_the_history_csv_has_a_column_per_train_config_field_and_keeps_the_epoch_lr_apart():
    config = TrainConfig(lr=0.5, schedule="cosine")
    text = charts.history_csv(history(2), {"run": "r", **config.to_dict()}).decode()
    table = pd.read_csv(io.StringIO(text))
    for f in fields(TrainConfig):
        name = "config_lr" if f.name == "lr" else f.name  # EpochStats has its own lr: the epoch's rate
        assert name in table.columns, name
    assert list(table["config_lr"]) == [0.5, 0.5]
    assert list(table["lr"]) == [0.0, 0.0]  # the stats' own column, untouched
    assert list(table["schedule"]) == ["cosine", "cosine"]


def test_a_setting_with_a_newline_stays_on_its_row():
    text = charts.history_csv(history(1), {"run": "loaded from a\nb.pt"}).decode()
    assert len(text.splitlines()) == 2  # a header and one row: no line break inside a cell
    table = pd.read_csv(io.StringIO(text))
    assert len(table) == 1 and table["run"].iloc[0] == "loaded from a b.pt"


def _colour_scales(spec: dict) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            colour = node.get("color")
            if isinstance(colour, dict) and colour.get("field") == "run":
                found.append(colour.get("scale"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return found


def test_runs_get_distinct_categorical_colours_that_follow_their_id():
    loss, acc = charts.history_specs(runs(3), run_ids=[2, 5, 7])
    for spec in (loss, acc):
        scales = _colour_scales(spec)
        assert scales and all(s is not None for s in scales)
        for s in scales:
            assert s["domain"] == [name for name, _ in runs(3)]
            assert s["range"] == [charts.RUN_PALETTE[1], charts.RUN_PALETTE[4], charts.RUN_PALETTE[6]]
            assert len(set(s["range"])) == 3
    # Run 5 keeps its colour when compared with other runs.
    (other,) = _colour_scales(charts.history_specs(runs(2), run_ids=[5, 1])[0])
    assert other["range"][0] == charts.run_colour(5) == charts.RUN_PALETTE[4]
    assert len(set(charts.RUN_PALETTE)) == 10


def test_the_reference_labels_are_drawn_over_the_curves():
    _, acc = charts.history_specs(runs(2))
    kinds = [(layer.get("mark", {}).get("type"), layer) for layer in layers(acc)]
    texts = [i for i, (k, _) in enumerate(kinds) if k == "text"]
    curves = [i for i, (k, _) in enumerate(kinds) if k in ("line", "point")]
    assert texts and curves and min(texts) > max(curves), "a label under a curve is crossed out by it"
    assert any(layer.get("mark", {}).get("stroke") == "white" for _, layer in kinds)  # the halo


def test_accuracy_axes_end_at_one():
    for zoom in (True, False):
        _, acc = charts.history_specs(runs(2), zoom=zoom)
        assert _acc_domain(acc)[1] == 1
