"""lab_ui/state.py: the session's runs and the widget-value helpers, with a dict as session state."""

from __future__ import annotations

import itertools

import pytest

from fmnist_lib import EpochStats, TrainingRun, default_config
from lab_ui import state
from lab_ui.state import run_name


def _run() -> TrainingRun:
    return TrainingRun(default_config("softmax"))


def _trained() -> TrainingRun:
    """A run with one epoch in its history (the comparison offers only runs it can draw)."""
    run = _run()
    run.history = [EpochStats(1, 0.5, 0.8, 0.8, 1.0, 60_000.0, 60_000)]
    return run


def test_runs_get_increasing_ids_and_their_names(session_state):
    a = state.add_run(_run())
    b = state.add_run(_run(), origin="checkpoint", name="mine.pt")
    assert (a.id, b.id) == (1, 2)
    assert a.origin == "trained" and f"#{a.id}" in a.name
    assert b.origin == "checkpoint" and b.name == "mine.pt"
    assert state.runs() == [a, b] and state.find_run(2) is b and state.find_run(3) is None


def test_the_oldest_runs_beyond_the_limit_are_dropped(session_state):
    added = [state.add_run(_run()) for _ in range(state.MAX_RUNS + 2)]
    assert [r.id for r in state.runs()] == [r.id for r in added[2:]]


def test_the_active_run_and_the_one_training_are_never_dropped(session_state):
    first, second = state.add_run(_run()), state.add_run(_run())
    state.set_active(first.id)
    session_state[state.JOB] = state.TrainJob(run_id=second.id, target_epochs=1)
    for _ in range(state.MAX_RUNS):
        state.add_run(_run())
    ids = [r.id for r in state.runs()]
    assert len(ids) == state.MAX_RUNS and ids[:2] == [first.id, second.id]
    assert state.active_id() == first.id


def test_active_id_forgets_a_run_that_is_gone(session_state):
    state.set_active(7)
    assert state.active_id() is None


def test_bind_keeps_the_value_across_widget_remounts(session_state):
    kwargs = state.bind(state.EPOCHS, 10)
    assert kwargs["key"] == state.widget_key(state.EPOCHS) and kwargs["value"] == 10
    session_state[kwargs["key"]] = 3  # the user moves the slider
    kwargs["on_change"]()
    assert state.get(state.EPOCHS) == 3
    del session_state[kwargs["key"]]  # the page is left: Streamlit drops the widget's key
    assert state.bind(state.EPOCHS, 10)["value"] == 3
    assert state.bind(state.OPTIMIZER, "sgd", options=["sgd", "momentum", "adam"])["index"] == 0
    state.put(state.OPTIMIZER, "adam")
    assert state.bind(state.OPTIMIZER, "sgd", options=["sgd", "momentum", "adam"])["index"] == 2


def test_compare_keeps_only_existing_runs_and_its_key_follows_the_set_of_runs(session_state):
    a, b = state.add_run(_trained()), state.add_run(_trained())
    session_state[state.value_key(state.COMPARE)] = [a.id, 99]  # 99: a run since dropped
    kwargs = state.bind_compare([a.id, b.id])
    assert kwargs["default"] == [a.id]
    assert kwargs["key"] != state.bind_compare([a.id])["key"]

    kwargs = state.bind_compare([a.id, b.id])
    session_state[kwargs["key"]] = [b.id]  # the user picks b
    kwargs["on_change"]()
    assert state.get(state.COMPARE) == [b.id]


def test_a_change_from_the_widget_of_an_older_set_of_runs_is_ignored(session_state):
    a = state.add_run(_trained())
    old = state.bind_compare([a.id])
    b = state.add_run(_trained())
    state.put(state.COMPARE, [a.id, b.id])
    session_state[old["key"]] = []  # the browser reports the old widget's value once more
    old["on_change"]()
    assert state.get(state.COMPARE) == [a.id, b.id]


def test_the_default_run_names_model_optimizer_and_rate_only():
    assert run_name(1, default_config("softmax"), []) == "#1 Softmax · SGD lr 0.1"


def test_two_runs_that_differ_only_by_seed_differ_in_name():
    first = default_config("softmax")
    second = default_config("softmax", seed=1)
    assert "seed 1" in run_name(2, second, [first])
    # A later run with the default seed says so too: it differs from run 2.
    assert "seed 0" in run_name(3, first, [first, second])


def test_settings_that_differ_from_the_defaults_are_named():
    c = default_config("softmax", optimizer="adam", lr=1e-3, batch_size=64, weight_decay=1e-4, schedule="cosine")
    name = run_name(4, c, [])
    for part in ("Adam lr 0.001", "batch 64", "weight decay 0.0001", "cosine schedule"):
        assert part in name


def test_different_settings_never_share_a_name():
    variants = dict(seed=(0, 1), batch_size=(256, 64), optimizer=("sgd", "momentum"), epochs=(10, 3))
    configs = [
        default_config("softmax", **dict(zip(variants, values, strict=True)))
        for values in itertools.product(*variants.values())
    ]
    names = [run_name(0, c, configs[:i]).removeprefix("#0 ") for i, c in enumerate(configs)]
    assert len(set(names)) == len(configs)


def test_each_models_default_optimizer_brings_the_models_default_rate():
    from lab_ui.train_page import controls

    for model in ("softmax", "cnn"):
        c = default_config(model)
        assert controls.suggested_lr(model, c.optimizer) == c.lr
        assert all(lr in controls.LR_OPTIONS for lr in controls.OPTIMIZER_LR[model].values())


def test_a_dropped_run_is_named_for_the_train_page_until_the_next_run(session_state):
    added = [state.add_run(_run()) for _ in range(state.MAX_RUNS)]
    assert session_state[state.DROPPED] == []
    state.add_run(_run())
    assert session_state[state.DROPPED] == [added[0].name]
    state.add_run(_run())
    assert session_state[state.DROPPED] == [added[1].name]  # the latest drop, not a growing list


def test_a_one_epoch_run_is_named_in_the_singular():
    one = default_config("softmax", epochs=1)
    assert run_name(1, one, []).endswith("· 1 epoch")
    assert run_name(2, default_config("softmax", epochs=3), []).endswith("· 3 epochs")


def test_pinned_runs_are_never_dropped_and_the_oldest_unpinned_one_goes(session_state):
    added = [state.add_run(_run()) for _ in range(state.MAX_RUNS)]
    state.set_pinned(added[0].id, True)
    state.add_run(_run())
    assert session_state[state.DROPPED] == [added[1].name]  # named for the Train page
    assert added[0] in state.runs() and added[1] not in state.runs()


def test_a_session_of_kept_runs_has_no_room_until_one_is_unpinned_or_deleted(session_state):
    added = [state.add_run(_run()) for _ in range(state.MAX_RUNS)]
    for r in added[1:]:
        state.set_pinned(r.id, True)
    state.set_active(added[0].id)  # the active model is kept too
    assert not state.room_for_a_run()
    with pytest.raises(state.NoRoom):
        state.add_run(_run())
    assert state.runs() == added  # nothing added, nothing dropped
    state.set_pinned(added[3].id, False)
    assert state.room_for_a_run()
    state.set_pinned(added[3].id, True)
    state.delete_run(added[5].id)
    assert state.room_for_a_run() and added[5] not in state.runs()


def test_deleting_the_active_run_makes_the_default_model_active_and_the_training_run_stays(session_state):
    a, b = state.add_run(_run()), state.add_run(_run())
    state.set_active(a.id)
    session_state[state.NOTICE] = (a.id, None)
    session_state[state.JOB] = state.TrainJob(run_id=b.id, target_epochs=1)
    state.delete_run(a.id)
    state.delete_run(b.id)  # training: refused
    assert state.runs() == [b] and state.active_id() is None and state.NOTICE not in session_state


def test_the_comparison_offers_runs_with_an_epoch_and_the_one_training(session_state):
    drawn, diverged, training = state.add_run(_trained()), state.add_run(_run()), state.add_run(_run())
    diverged.run.status = "diverged"  # rolled back to nothing in its first epoch
    assert state.compare_options() == [drawn.id]
    session_state[state.JOB] = state.TrainJob(run_id=training.id, target_epochs=1)
    assert state.compare_options() == [drawn.id, training.id]
