"""AppTest: the Train page — training fills the history, Stop keeps it, leaving pauses it,
a diverging run says why, checkpoints go out and come back, widget values survive pages."""

from __future__ import annotations

import re

import pytest
import torch

from fmnist_lib import DEFAULT_CONFIGS, TrainingRun, checkpoint_bytes, default_config
from lab_ui import state
from lab_ui.train_page import controls
from tests.support.apptest import (
    assert_ok,
    job,
    open_page,
    set_widget,
    texts,
    train_until_done,
    upload_checkpoint,
    wait_for_epochs,
)

pytestmark = pytest.mark.integration

TEST_ACCURACY = re.compile(r"Test accuracy \d{1,3}\.\d%")


def runs(at):
    return at.session_state[state.RUNS] if state.RUNS in at.session_state else []  # noqa: SIM401 (no .get)


def click(at, key):
    at.button(key=key).click().run()
    assert_ok(at)
    return at


def test_train_fills_the_history_and_activates_the_run():
    at = open_page("app_pages/train.py")
    set_widget(at, "slider", state.EPOCHS, 3)
    click(at, state.TRAIN_BUTTON)
    train_until_done(at)
    (lab_run,) = runs(at)
    assert lab_run.run.status == "finished"
    assert [e.epoch for e in lab_run.run.history] == [1, 2, 3]
    success = " ".join(texts(at.success))
    assert "Finished 3 epochs" in success and TEST_ACCURACY.search(success)
    assert len([t for t in texts(at.success) if "Test accuracy" in t]) == 1, "the final message, once"
    assert lab_run.run.test_acc > 0.7
    assert len(at.get("vega_lite_chart")) >= 2  # loss and accuracy curves
    assert any("#1" in t for t in texts(at.info)), "the new run is the active model"
    assert at.session_state[state.ACTIVE] == lab_run.id


def start_a_long_run(at):
    """Softmax for 50 epochs of 3,750 small batches (~15 s in all): long enough to act on while it trains.
    Returns once its first epoch is back."""
    set_widget(at, "select_slider", state.BATCH, 16)
    set_widget(at, "slider", state.EPOCHS, 50)
    click(at, state.TRAIN_BUTTON)
    wait_for_epochs(at, 1)
    assert job(at) is not None, "still training"
    return at


def test_stop_keeps_the_partial_run_and_continue_finishes_it():
    at = start_a_long_run(open_page("app_pages/train.py"))
    assert at.button(key=state.TRAIN_BUTTON).disabled and not at.button(key=state.STOP_BUTTON).disabled
    click(at, state.STOP_BUTTON)
    train_until_done(at)  # the worker ends the epoch within a step and sends it back
    run = runs(at)[0].run
    done = run.epochs_done
    assert run.status == "stopped" and 1 <= done < 50, "Stop keeps every epoch learned"
    info = " ".join(texts(at.info))
    assert ("Stopped after" in info or "Stopped part-way through its first epoch" in info) and TEST_ACCURACY.search(
        info
    )

    click(at, state.CONTINUE_BUTTON)
    assert job(at) is not None
    train_until_done(at)
    assert run.status == "finished" and run.epochs_done == 50
    assert [e.epoch for e in run.history] == list(range(1, 51))
    assert len(at.get("vega_lite_chart")) >= 2, "the page was drawn again with the finished run"


STOPPED = re.compile(r"Stopped (during|after|part-way)")


def test_the_click_on_stop_already_shows_the_run_stopped():
    """Stop's own rerun says the run stopped (the click waits a moment for the worker, which stops before its
    next step): no tick of the live panel later."""
    at = start_a_long_run(open_page("app_pages/train.py"))
    click(at, state.STOP_BUTTON)
    shown = texts(at.info) + [p.proto.text for p in at.get("progress")]
    assert any(STOPPED.search(t) for t in shown), shown
    train_until_done(at)
    assert runs(at)[0].run.status == "stopped"


def test_leaving_the_page_pauses_and_the_history_is_intact():
    at = start_a_long_run(open_page("app_pages/train.py"))
    at.switch_page("app_pages/browse.py").run()
    assert_ok(at)
    train_until_done(at)  # the job ends within a step, whatever page is shown
    run = runs(at)[0].run
    done = run.epochs_done
    assert 1 <= done < 50 and run.status == "stopped" and run.paused_because == "you left the Train page"
    at.switch_page("app_pages/train.py").run()
    assert_ok(at)
    assert run.epochs_done == done
    assert any("paused" in t for t in texts(at.info))
    assert at.button(key=state.CONTINUE_BUTTON)


def test_a_killed_worker_fails_only_that_sessions_run_and_both_can_train_on():
    """Two sessions train at once; one's worker is killed: that session says why and keeps its epochs, the
    other finishes, and the pool has a new worker for the next run."""
    import os
    import signal

    from lab_ui import resources

    victim = start_a_long_run(open_page("app_pages/train.py"))
    other = open_page("app_pages/train.py")
    set_widget(other, "slider", state.EPOCHS, 3)
    click(other, state.TRAIN_BUTTON)
    os.kill(resources.pool().worker_pid(job(victim).job), signal.SIGKILL)
    train_until_done(victim)
    train_until_done(other)
    run = runs(victim)[0].run
    assert run.status == "failed" and run.epochs_done >= 1
    error = " ".join(texts(victim.error))
    assert "stopped unexpectedly" in error and "signal 9" in error and "of training" in error and "(s)" not in error
    assert at_least_one_button_says(victim, "Continue")
    assert runs(other)[0].run.status == "finished" and not other.error
    click(victim, state.CONTINUE_BUTTON)
    train_until_done(victim)
    assert run.status == "finished" and run.epochs_done == 50


def at_least_one_button_says(at, text: str) -> bool:
    return any(text in b.label for b in at.button)


def test_two_sessions_with_the_same_settings_train_at_once_to_the_same_accuracy():
    sessions = [open_page("app_pages/train.py") for _ in range(2)]
    for at in sessions:
        set_widget(at, "slider", state.EPOCHS, 3)
    for at in sessions:
        click(at, state.TRAIN_BUTTON)
    for at in sessions:
        train_until_done(at)
    first, second = (runs(at)[0].run for at in sessions)
    assert first.status == second.status == "finished"
    assert [e.test_acc for e in first.history] == [e.test_acc for e in second.history]
    assert all(
        torch.equal(a, b)
        for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(), strict=True)
    )


def test_a_run_waiting_for_a_worker_says_how_many_are_ahead():
    """With every worker busy (two long jobs of other sessions), a Train press waits in the queue and says so."""
    from lab_ui import resources

    pool = resources.pool()
    long = TrainingRun(default_config("softmax", batch_size=16, epochs=50)).snapshot()
    blockers = [pool.submit(long, 50) for _ in range(max(1, pool.workers))]
    queued = pool.submit(long, 50)  # one more, ahead of the session's run
    try:
        at = open_page("app_pages/train.py")
        set_widget(at, "slider", state.EPOCHS, 2)
        click(at, state.TRAIN_BUTTON)
        bars = [b.proto.text for b in at.get("progress")]
        assert any("Waiting for a free training worker: 1 run ahead of yours" in t for t in bars), bars
        queued.stop()
        at.run()
        bars = [b.proto.text for b in at.get("progress")]
        assert any("Waiting for a free training worker: yours is next" in t for t in bars), bars
    finally:
        for j in (*blockers, queued):
            j.stop()
    train_until_done(at)
    assert runs(at)[0].run.status == "finished"


def test_a_diverging_run_stops_and_says_why():
    at = open_page("app_pages/train.py")
    set_widget(at, "select_slider", state.LR, 10.0)
    set_widget(at, "slider", state.EPOCHS, 2)
    click(at, state.TRAIN_BUTTON)
    train_until_done(at)
    run = runs(at)[0].run
    assert run.status == "diverged"
    error = " ".join(texts(at.error))
    assert "learning rate" in error.lower() and "too large" in error
    # The failed epoch, step by step, and the guard's rule in one sentence.
    assert run.diverged is not None and len(run.diverged.losses) >= 2
    assert any("until the guard stopped it" in c.proto.spec for c in at.get("vega_lite_chart"))
    assert any("The guard stops a run" in t and "above 50" in t for t in texts(at.caption))


def test_choosing_the_cnn_sets_its_defaults_and_widgets_survive_page_switches():
    at = open_page("app_pages/train.py")
    assert at.radio(key=state.widget_key(state.AUGMENT)).value == "off"  # the tutorial's softmax
    set_widget(at, "radio", state.MODEL, "cnn")
    cnn = DEFAULT_CONFIGS["cnn"]
    assert at.select_slider(key=state.widget_key(state.LR)).value == cnn.lr
    assert at.selectbox(key=state.widget_key(state.OPTIMIZER)).value == "adam"
    assert at.radio(key=state.widget_key(state.SCHEDULE)).value == cnn.schedule
    assert at.radio(key=state.widget_key(state.AUGMENT)).value == cnn.augment == "mirror"
    set_widget(at, "slider", state.EPOCHS, 2)
    at.switch_page("app_pages/upload.py").run()
    at.switch_page("app_pages/train.py").run()
    assert_ok(at)
    assert at.radio(key=state.widget_key(state.MODEL)).value == "cnn"
    assert at.slider(key=state.widget_key(state.EPOCHS)).value == 2
    click(at, state.RESET_BUTTON)
    assert at.slider(key=state.widget_key(state.EPOCHS)).value == cnn.epochs


def test_checkpoints_download_and_come_back(real_data):
    at = open_page("app_pages/train.py")
    run = TrainingRun(default_config("softmax", epochs=2))
    run.fit(real_data)
    upload_checkpoint(at, "mine.pt", checkpoint_bytes(run))
    assert_ok(at)
    (loaded,) = runs(at)
    assert loaded.origin == "checkpoint" and loaded.run.epochs_done == 2
    assert loaded.run.test_acc == pytest.approx(run.test_acc)
    assert any("Loaded" in t for t in texts(at.success))
    assert at.session_state[state.ACTIVE] == loaded.id
    labels = [b.label for b in at.get("download_button")]
    assert "History (CSV)" in labels and "Model checkpoint (.pt)" in labels and "Notebook (.ipynb)" in labels


@pytest.mark.parametrize(
    "name, data",
    [("notes.txt", b"just some text"), ("empty.pt", b""), ("random.pt", bytes(range(256)) * 40)],
)
def test_a_bad_checkpoint_is_refused_with_a_message(name, data):
    at = open_page("app_pages/train.py")
    upload_checkpoint(at, name, data)
    assert_ok(at)
    assert any("refused" in t for t in texts(at.error))
    assert runs(at) == []
    assert at.button(key=state.TRAIN_BUTTON), "the page keeps working"


def test_runs_are_kept_and_compared():
    at = open_page("app_pages/train.py")
    set_widget(at, "slider", state.EPOCHS, 1)
    for lr in (0.1, 0.5):
        set_widget(at, "select_slider", state.LR, lr)
        click(at, state.TRAIN_BUTTON)
        train_until_done(at)
    ids = [r.id for r in runs(at)]
    assert len(ids) == 2
    assert at.multiselect[0].label == "Compare runs" and at.multiselect[0].value == ids
    assert len(at.get("vega_lite_chart")) >= 4  # the latest run's two charts and the overlay's two
    table = at.table[0].value
    assert list(table["epochs"]) == ["1", "1"]  # text: st.table printed numbers with four decimals
    assert "Notebook (.ipynb)" in [b.label for b in at.get("download_button")]  # a trained run's too


def test_an_unrelated_click_during_training_does_not_stop_it():
    at = start_a_long_run(open_page("app_pages/train.py"))
    at.multiselect[0].set_value([]).run()  # Compare runs, while training
    assert_ok(at)
    assert job(at) is not None
    click(at, state.STOP_BUTTON)
    train_until_done(at)
    run = runs(at)[0].run
    assert run.status == "stopped" and run.epochs_done >= 2, "it trained on after the click"


def _accuracy_axis(at) -> tuple[list[float], list[str]]:
    """(the y domain, the reference lines drawn) of the Latest run's accuracy chart."""
    import json

    import pyarrow as pa

    def title(c) -> str:
        t = json.loads(c.proto.spec).get("title")
        return t.get("text") if isinstance(t, dict) else t

    chart = next(c for c in at.get("vega_lite_chart") if title(c) == "Accuracy (training and test)")
    spec = json.loads(chart.proto.spec)
    refs = []
    for d in chart.proto.datasets:
        table = pa.ipc.open_stream(d.data.data).read_pandas()
        if "reference" in table.columns:
            refs += table["reference"].tolist()
    (curves,) = [layer for layer in spec["layer"] if layer.get("mark", {}).get("type") == "line"]
    return curves["encoding"]["y"]["scale"]["domain"], refs


def test_the_accuracy_axis_is_zoomed_to_the_curves_unless_asked_for_0_to_100():
    at = open_page("app_pages/train.py")
    set_widget(at, "slider", state.EPOCHS, 2)
    click(at, state.TRAIN_BUTTON)
    train_until_done(at)
    domain, refs = _accuracy_axis(at)
    (lab_run,) = runs(at)
    lowest = min(min(e.train_acc, e.test_acc) for e in lab_run.run.history)
    assert 0.5 <= domain[0] < lowest and domain[1] == 1  # starts just below the curves
    assert not any("chance" in r for r in refs) and len(refs) == 2  # the human and best-linear lines stay
    assert any("1,000" in t and "3 labels" in t for t in texts(at.caption)), "how the human figure was measured"

    set_widget(at, "toggle", state.ACC_ZOOM, False)
    domain, refs = _accuracy_axis(at)
    assert domain == [0.0, 1] and len(refs) == 3 and any("chance" in r for r in refs)


def test_each_optimizer_brings_its_learning_rate_until_the_slider_is_moved():
    at = open_page("app_pages/train.py")
    lr = at.select_slider(key=state.widget_key(state.LR))
    assert lr.value == 0.1
    set_widget(at, "selectbox", state.OPTIMIZER, "adam")
    assert at.select_slider(key=state.widget_key(state.LR)).value == controls.suggested_lr("softmax", "adam") < 0.01
    set_widget(at, "selectbox", state.OPTIMIZER, "momentum")
    assert at.select_slider(key=state.widget_key(state.LR)).value == controls.suggested_lr("softmax", "momentum")
    set_widget(at, "select_slider", state.LR, 0.005)  # the user's own choice stays from now on
    set_widget(at, "selectbox", state.OPTIMIZER, "adam")
    assert at.select_slider(key=state.widget_key(state.LR)).value == 0.005
    click(at, state.RESET_BUTTON)  # Reset: the defaults, and optimizers bring their rates again
    set_widget(at, "selectbox", state.OPTIMIZER, "adam")
    assert at.select_slider(key=state.widget_key(state.LR)).value == controls.suggested_lr("softmax", "adam")


def test_a_checkpoint_file_name_is_shown_as_text_not_markdown():
    at = open_page("app_pages/train.py")
    upload_checkpoint(at, "**x** :red[y].pt", b"junk")
    assert_ok(at)
    assert any(r"\*\*x\*\* \:red\[y\].pt" in t and "was refused" in t for t in texts(at.error))


def test_a_loaded_checkpoints_name_is_text_and_the_run_table_stays_short(trained_softmax):
    """The message (Markdown) shows a run named after its file as text; the run table (short enough for a
    phone) names it by number and says it was loaded."""
    at = open_page("app_pages/train.py")
    upload_checkpoint(at, "[x](http://example.invalid) **b**.pt", checkpoint_bytes(trained_softmax))
    assert_ok(at)
    shown = [t.replace("\u200b", "") for t in texts(at.success)]  # plain() breaks the URL with a zero-width space
    assert any(r"Loaded **\[x\](http\://example.invalid) \*\*b\*\*.pt**. A checkpoint with" in t for t in shown)
    (name,) = list(at.table[0].value["run"])
    assert name == f"#{runs(at)[0].id} Softmax" and list(at.table[0].value["origin"]) == ["loaded"]


def test_the_final_message_belongs_to_the_run_shown():
    """Issue 12: after loading a checkpoint, Latest run shows it, not the previous run's "Finished"."""
    from tests.support.data import make_tiny_data

    at = open_page("app_pages/train.py")
    set_widget(at, "slider", state.EPOCHS, 1)
    click(at, state.TRAIN_BUTTON)
    train_until_done(at)
    assert any("Finished 1 epoch in" in t for t in texts(at.success))  # not "1 epochs"
    tiny = TrainingRun(default_config("softmax", epochs=2, batch_size=8))
    tiny.fit(make_tiny_data())
    upload_checkpoint(at, "tiny.pt", checkpoint_bytes(tiny))
    assert_ok(at)
    assert any("tiny.pt" in c for c in texts(at.caption)), "Latest run shows the loaded run"
    assert not any("Finished 1 epoch in" in t for t in texts(at.success)), "not the previous run's message"


def test_after_continue_the_message_gives_the_total_training_time():
    """Issue 12: "Finished 50 epochs in X s" counts all the epochs, the last stretch separately."""
    at = start_a_long_run(open_page("app_pages/train.py"))
    click(at, state.STOP_BUTTON)
    train_until_done(at)
    run = runs(at)[0].run
    first = run.epochs_done
    assert 1 <= first < 50
    click(at, state.CONTINUE_BUTTON)
    train_until_done(at)
    total = sum(e.seconds for e in run.history)
    success = " ".join(texts(at.success))
    assert f"Finished 50 epochs in {total:.1f} s of training (the last {50 - first} in " in success


def test_a_loaded_checkpoints_confirmation_is_shown_in_an_open_expander():
    """Issue 12: in a fresh session the rerun after loading must not hide "Loaded ..." in a collapsed expander."""
    from tests.support.data import make_tiny_data

    at = open_page("app_pages/train.py")
    (before,) = [x for x in at.expander if x.label == "Load a checkpoint"]
    assert not before.proto.expanded, "collapsed while it holds nothing"
    tiny = TrainingRun(default_config("softmax", epochs=2, batch_size=8))
    tiny.fit(make_tiny_data())
    upload_checkpoint(at, "tiny.pt", checkpoint_bytes(tiny))
    assert_ok(at)
    (box,) = [x for x in at.expander if x.label == "Load a checkpoint"]
    assert box.proto.expanded, "open, so its message is seen"
    assert any("Loaded" in t and "tiny.pt" in t for t in texts(box.success))


def test_the_compare_picker_does_not_preselect_a_run_that_diverged():
    """A run that diverged in its first epoch has no curve: the picker neither offers nor pre-selects it, and
    says why it is left out."""
    at = open_page("app_pages/train.py")
    set_widget(at, "slider", state.EPOCHS, 1)
    click(at, state.TRAIN_BUTTON)
    train_until_done(at)
    set_widget(at, "select_slider", state.LR, 10.0)
    click(at, state.TRAIN_BUTTON)  # joins the comparison while it trains, as every new run does
    train_until_done(at)
    first, diverged = runs(at)
    assert diverged.run.status == "diverged" and not diverged.run.history
    picker = at.multiselect[0]
    assert picker.value == [first.id] and diverged.name not in picker.options
    assert any("Not in the comparison" in t and "diverged in its first epoch" in t for t in texts(at.caption))


def _lab_run_with_an_epoch(rid: int) -> state.LabRun:
    from fmnist_lib import EpochStats

    run = TrainingRun(default_config("softmax", epochs=1))
    run.history = [EpochStats(1, 0.5, 0.8, 0.8, 1.0, 60_000.0, 60_000)]
    run.status = "finished"
    return state.LabRun(rid, f"#{rid} Softmax · SGD lr 0.1", run)


def test_kept_runs_are_never_dropped_and_a_session_of_kept_runs_asks_before_training():
    import itertools

    at = open_page("app_pages/train.py")
    at.session_state[state.RUNS] = [_lab_run_with_an_epoch(i) for i in range(1, state.MAX_RUNS + 1)]
    at.session_state[state.RUN_COUNTER] = itertools.count(state.MAX_RUNS + 1)
    at.run()
    for i in range(1, state.MAX_RUNS + 1):
        at.checkbox(key=f"{state.KEEP_BOX}.{i}").check().run()
        assert_ok(at)
    assert all(r.pinned for r in runs(at))
    assert at.button(key=state.TRAIN_BUTTON).disabled, "no room: Train waits for an unpin or a delete"
    assert any("are kept" in t and "unpin or delete" in t for t in texts(at.warning))

    click(at, f"{state.DELETE_BUTTON}.3")
    assert [r.id for r in runs(at)] == [1, 2, 4, 5, 6, 7, 8] and not at.button(key=state.TRAIN_BUTTON).disabled
    set_widget(at, "slider", state.EPOCHS, 1)
    click(at, state.TRAIN_BUTTON)
    train_until_done(at)
    assert [r.id for r in runs(at)] == [1, 2, 4, 5, 6, 7, 8, 9]  # room made by the delete: nothing dropped

    at.checkbox(key=f"{state.KEEP_BOX}.2").uncheck().run()
    click(at, state.TRAIN_BUTTON)
    train_until_done(at)
    assert [r.id for r in runs(at)] == [1, 4, 5, 6, 7, 8, 9, 10]  # #2, the one not kept, made room
    notice = " ".join(texts(at.info))
    assert "you did not keep was dropped: #2 Softmax" in notice
