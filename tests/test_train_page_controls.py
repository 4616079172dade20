"""lab_ui/train_page/controls.py: the config the Train page's controls describe, with a dict as session state."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmnist_lib import TrainingRun, default_config
from lab_ui import state
from lab_ui.train_page import controls


def test_untouched_controls_give_the_models_default_config(session_state):
    assert controls.config_from_state() == default_config("softmax")
    state.put(state.MODEL, "cnn")
    assert controls.config_from_state() == default_config("cnn")


def test_the_stored_widget_values_make_the_config(session_state):
    state.put(state.MODEL, "cnn")
    state.put(state.LR, 0.5)
    state.put(state.EPOCHS, 3.0)  # number widgets may hand back floats
    state.put(state.SEED, 7.0)
    config = controls.config_from_state()
    assert config == default_config("cnn", lr=0.5, epochs=3, seed=7)
    assert isinstance(config.epochs, int) and isinstance(config.seed, int)


def test_invalid_values_raise_a_readable_error(session_state):
    state.put(state.LR, 0.0)
    with pytest.raises(ValueError, match="learning rate must be a positive number"):
        controls.config_from_state()


def test_reset_puts_every_control_back_to_the_models_defaults(session_state):
    state.put(state.MODEL, "cnn")
    state.put(state.LR, 5.0)
    state.put(state.EPOCHS, 1)
    controls.reset_to_defaults()
    assert controls.config_from_state() == default_config("cnn")
    assert session_state[state.widget_key(state.LR)] == controls.defaults("cnn")[state.LR]


def test_the_defaults_are_options_of_their_widgets():
    for model in ("softmax", "cnn"):
        d = controls.defaults(model)
        assert d[state.LR] in controls.LR_OPTIONS and d[state.BATCH] in controls.BATCH_OPTIONS
        assert d[state.WEIGHT_DECAY] in controls.WEIGHT_DECAY_OPTIONS and 1 <= d[state.EPOCHS] <= controls.MAX_EPOCHS


def test_the_learning_rate_help_names_the_rate_the_docs_name():
    assert f"try {controls.DIVERGING_LR:g} " in controls.LR_HELP and controls.DIVERGING_LR == 10
    cli_doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    assert f"--lr {controls.DIVERGING_LR:g}`" in cli_doc


@pytest.mark.integration
def test_the_rate_the_help_names_does_diverge_softmax_with_sgd(real_data):
    run = TrainingRun(default_config("softmax", lr=controls.DIVERGING_LR, epochs=1))
    run.fit(real_data)
    assert run.status == "diverged" and "such as 0.1." in run.message  # the rate that trains it to ~82%


def test_the_model_help_states_the_cnn_time_as_measured_and_where():
    help_text = controls.MODEL_HELP
    assert "~10 s" not in help_text
    assert "5.9 s" in help_text and "2-core Intel Xeon" in help_text and "22 s" in help_text
