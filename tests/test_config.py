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
        ("augment", True),
    ],
)
def test_invalid_settings_are_refused_with_a_message(field, value):
    with pytest.raises(ValueError, match="Invalid training settings"):
        dataclasses.replace(TrainConfig(), **{field: value}).validate()


def test_cosine_schedule():
    c = default_config("cnn", lr=1.0, epochs=4, schedule="cosine")
    assert [round(lr_at(c, e), 3) for e in (1, 2, 3, 4, 5)] == [1.0, 0.854, 0.5, 0.146, 0.146]
    assert lr_at(default_config("softmax"), 7) == 0.1


def test_default_configs_validate():
    for c in DEFAULT_CONFIGS.values():
        c.validate()


def test_onecycle_warms_up_then_falls_to_zero_step_by_step():
    c = default_config("cnn", lr=1.0, epochs=2, schedule="onecycle")
    steps = 10  # per epoch: 20 steps in all, the peak after 5 (a quarter)
    lrs = [lr_at(c, e, s, steps) for e in (1, 2) for s in range(steps)]
    assert lrs[0] == 1.0 / 25 and max(lrs) == lrs[5] == 1.0
    assert all(a < b for a, b in zip(lrs[:5], lrs[1:6], strict=True))  # rising
    assert all(a > b for a, b in zip(lrs[5:-1], lrs[6:], strict=True))  # falling
    assert lrs[-1] < 0.02 and lr_at(c, 3, 0, steps) == 0.0  # past the end: its last value, 0
    assert lr_at(c, 1) == lrs[0] and lr_at(c, 2) == lrs[10]


def test_augmentation_is_off_for_the_tutorials_softmax_and_on_for_the_cnn():
    assert default_config("softmax").augment == "off"
    assert default_config("cnn").augment == "mirror"
    assert default_config("cnn", augment="mirror+shift").augment == "mirror+shift"
    # A checkpoint saved before the field existed loads as not augmented.
    old = {k: v for k, v in default_config("cnn").to_dict().items() if k != "augment"}
    assert TrainConfig.from_dict(old).augment == "off"


def test_a_diverged_run_is_offered_a_rate_that_trains_well_not_a_tenth_of_the_one_that_blew_up():
    from fmnist_lib.config import suggested_lr

    assert suggested_lr(default_config("softmax", lr=10.0)) == 0.1  # a tenth, 1, trains to only 63.6%
    assert suggested_lr(default_config("softmax", lr=1.0, optimizer="adam")) == 2e-3
    assert suggested_lr(default_config("softmax", lr=0.1)) == pytest.approx(0.01)  # blew up at the recommended
