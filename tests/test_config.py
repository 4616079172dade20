"""fmnist_lib.config: the defaults, validation and the learning-rate schedule."""

from __future__ import annotations

import dataclasses

import pytest

from fmnist_lib.config import DEFAULT_CONFIGS, TrainConfig, default_config, lr_at


def test_softmax_defaults_are_the_tutorials():
    c = default_config("softmax")
    assert (c.model, c.lr, c.epochs, c.batch_size, c.optimizer, c.weight_decay) == ("softmax", 0.1, 10, 256, "sgd", 0)
    assert c.schedule == "constant"
    assert default_config("cnn").optimizer == "adam"
    assert default_config("softmax", lr=0.5, epochs=None).lr == 0.5  # None keeps the default


@pytest.mark.parametrize(
    "field, value",
    [
        ("lr", 0),
        ("lr", float("nan")),
        ("epochs", 0),
        ("batch_size", 0),
        ("optimizer", "rmsprop"),
        ("model", "mlp"),
        ("weight_decay", -1),
        ("seed", -1),
        ("schedule", "step"),
    ],
)
def test_invalid_settings_are_refused_with_a_message(field, value):
    with pytest.raises(ValueError, match="Invalid training settings"):
        dataclasses.replace(TrainConfig(), **{field: value}).validate()


def test_cosine_schedule():
    c = default_config("cnn", lr=1.0, epochs=4)
    assert [round(lr_at(c, e), 3) for e in (1, 2, 3, 4, 5)] == [1.0, 0.854, 0.5, 0.146, 0.146]
    assert lr_at(default_config("softmax"), 7) == 0.1


def test_default_configs_validate():
    for c in DEFAULT_CONFIGS.values():
        c.validate()
