"""lab_ui.state.run_name: a run's name says what sets it apart."""

from __future__ import annotations

import itertools

from fmnist_lib import default_config
from lab_ui.state import run_name


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
    from lab_ui import controls

    for model in ("softmax", "cnn"):
        c = default_config(model)
        assert controls.suggested_lr(model, c.optimizer) == c.lr
        assert all(lr in controls.LR_OPTIONS for lr in controls.OPTIMIZER_LR[model].values())
