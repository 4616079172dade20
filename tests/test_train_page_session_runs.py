"""lab_ui/train_page/session_runs.py without a script run: the runs table's cells and the notebook a run's download hands out
(the page itself: test_app_train.py)."""

from __future__ import annotations

import nbformat

from fmnist_lib import EpochStats, TrainingRun, default_config
from lab_ui import state
from lab_ui.train_page import session_runs


def _lab_run(rid: int, seconds: tuple[float, ...]) -> state.LabRun:
    run = TrainingRun(default_config("softmax"))
    run.history = [EpochStats(i + 1, 0.5, 0.8, 0.8, s, 1.0, 60_000) for i, s in enumerate(seconds)]
    return state.LabRun(rid, f"#{rid} Softmax", run)


def test_seconds_are_shown_to_a_tenth_not_as_4_point_6000():
    (row,) = session_runs.table_rows([_lab_run(1, (2.25, 2.35))], None)
    assert row["time"] == "4.6 s" and row["epochs"] == "2" and row["test acc."] == "80.0%"
    assert all(isinstance(v, str) for v in row.values())  # st.table prints floats with four decimals


def test_the_comparison_says_why_a_picked_run_is_not_drawn():
    diverged = _lab_run(3, ())
    diverged.run.status = "diverged"
    fresh = _lab_run(4, ())
    note = session_runs.missing_note([diverged, fresh])
    assert note.startswith("Not in the comparison: ")
    assert "#3 Softmax diverged" in note and "#4 Softmax has no finished epoch" in note
    assert session_runs.missing_note([]) == ""


def test_the_dropped_notice_names_the_runs_as_plain_text_and_says_why():
    text = session_runs.dropped_notice(["#1 Softmax", "#2 loaded from [x](http://e.com).pt"])
    assert (
        f"keeps {state.MAX_RUNS} runs" in text and "memory" in text and "2 runs you did not keep were dropped" in text
    )
    assert "#1 Softmax" in text and "\\[x\\]" in text  # Markdown in a file name stays text
    one = session_runs.dropped_notice(["#1 Softmax"])
    assert "the oldest run you did not keep was dropped: #1 Softmax." in one and "**Keep**" in one
    assert session_runs.dropped_notice([]) == ""


def test_the_runs_table_is_short_enough_for_a_phone():
    loaded = _lab_run(12, (1.0,))
    loaded.name, loaded.origin = "#12 loaded from a-very-long-file-name-from-the-class.pt", "checkpoint"
    rows = session_runs.table_rows([_lab_run(3, (1.0,)), loaded], training_id=3)
    assert [r["run"] for r in rows] == ["#3 Softmax", "#12 Softmax"]
    assert [r["origin"] for r in rows] == ["trained", "loaded"] and rows[0]["status"] == "training"
    # ~6 px per character at the table's font: every row and the header fit in a 390 px phone's ~340 px.
    for row in [dict(zip(rows[0], rows[0], strict=True)), *rows]:
        assert sum(len(str(v)) + 3 for v in row.values()) <= 56, row


def test_the_notebook_download_is_the_runs_notebook(tiny_data):
    run = TrainingRun(default_config("cnn", epochs=3, batch_size=32))
    run.fit(tiny_data, epochs=1)  # stopped after 1 of 3, as a run the learner stopped
    nb = nbformat.reads(session_runs._notebook(run).decode("utf-8"), as_version=4)
    nbformat.validate(nb)
    meta = nb.metadata.fmnist_lab
    assert meta.config == run.config.to_dict() and meta.epochs == 1
    assert meta.scaling == run.scaling.to_dict() and meta.lab_test_accuracy == run.test_acc
