"""fmnist_lib.checkpoint_check: every field of a hand-made checkpoint is checked before it is used."""

from __future__ import annotations

import io

import pytest
import torch

from fmnist_lib import CheckpointError, TrainingRun, default_config, load_checkpoint
from fmnist_lib.checkpoint import checkpoint_dict


def _trained_dict(model: str = "softmax", **config) -> dict:
    run = TrainingRun(default_config(model, epochs=1, **config))
    d = checkpoint_dict(run)
    d["history"] = [
        {"epoch": 1, "train_loss": 0.6, "train_acc": 0.8, "test_acc": 0.82, "seconds": 0.1}
        | {"examples_per_sec": 6e5, "examples": 60000, "complete": True, "lr": 0.1}
    ]
    return d


def _load(d: dict):
    buf = io.BytesIO()
    torch.save(d, buf)
    return load_checkpoint(buf.getvalue())


def _assert_refused(change, fragment: str, model: str = "softmax") -> None:
    """A trained run's checkpoint dict, changed by `change`, is refused with a message matching `fragment`."""
    d = _trained_dict(model)
    change(d)
    with pytest.raises(CheckpointError, match=fragment):
        _load(d)


def test_a_clean_hand_made_history_loads():
    run = _load(_trained_dict())
    assert run.test_acc == pytest.approx(0.82) and run.status == "finished"


def _history(field, value):
    return lambda d: d["history"][0].update({field: value})


@pytest.mark.parametrize(
    "change, fragment",
    [
        (_history("test_acc", "100%"), r"History epoch 1: test_acc is '100%', not a number"),
        (_history("test_acc", 1.5), "test_acc is 1.5; it must be from 0 to 1"),
        (_history("train_loss", float("nan")), "train_loss is nan, not a finite number"),
        (_history("train_acc", float("inf")), "train_acc is inf"),
        (_history("epoch", 2), "numbered 2: the epochs are out of order"),
        (_history("epoch", True), "epoch is True, not a number"),
        (_history("examples", 1.5), "examples is 1.5, not a whole number"),
        (_history("complete", "yes"), "complete is 'yes'"),
        (_history("evil", 1), "unexpected fields: 'evil'"),
        (lambda d: d["history"][0].pop("train_acc"), "lacks train_acc"),
        (lambda d: d.update(history="all good"), "history is str, not a list"),
        (lambda d: d.update(history=[d["history"][0]] * 5001), "5001 epochs"),
        (lambda d: d.update(history=[7]), "History epoch 1 is int"),
    ],
    ids=[
        "acc-text", "acc-range", "loss-nan", "acc-inf", "order", "bool", "examples-float", "complete",
        "extra-field", "missing-field", "history-type", "history-length", "entry-type",
    ],
)  # fmt: skip
def test_a_bad_history_is_refused_with_what_is_wrong(change, fragment):
    _assert_refused(change, fragment)


@pytest.mark.parametrize(
    "scaling, fragment",
    [
        ({"mean": 0.0, "std": float("inf")}, "std is inf, not a finite number"),
        ({"mean": 0.0, "std": 1e-40}, "std must be a number from 0.01 to 10"),
        ({"mean": float("nan"), "std": 1.0}, "mean is nan"),
        ({"mean": 5.0, "std": 1.0}, "mean must be a number from 0 to 1"),
        ({"mean": "0", "std": 1.0}, "mean is '0', not a number"),
        ({"mean": 0.0}, "lacks std"),
    ],
    ids=["std-inf", "std-tiny", "mean-nan", "mean-range", "mean-text", "std-missing"],
)
def test_absurd_input_scaling_is_refused(scaling, fragment):
    _assert_refused(lambda d: d.__setitem__("scaling", scaling), fragment)


@pytest.mark.parametrize(
    "weight, fragment",
    [
        (torch.full((10, 784), 3e38), "values up to 3e\\+38"),
        (torch.full((10, 784), float("nan")), "NaN or infinite"),
        (torch.zeros(10, 784, dtype=torch.int8), "torch.int8; the softmax model's is torch.float32"),
        (torch.ones(10, 784, dtype=torch.bool), "torch.bool"),
        (torch.zeros(10, 784, dtype=torch.complex64), "torch.complex64"),
        (torch.zeros(10, 784, dtype=torch.float64), "torch.float64"),
        (torch.zeros(784, 10), r"shape \[784, 10\]; the softmax model's has \[10, 784\]"),
        ([[0.0] * 784] * 10, "is list, not a tensor"),
        (torch.zeros(10, 784).to_sparse(), "not a plain"),
    ],
    ids=["huge", "nan", "int8", "bool", "complex", "float64", "transposed", "list", "sparse"],
)
def test_weights_of_a_dtype_shape_or_size_no_model_has_are_refused(weight, fragment):
    _assert_refused(lambda d: d["state_dict"].__setitem__("linear.weight", weight), fragment)


def test_missing_and_unexpected_weights_are_named():
    _assert_refused(
        lambda d: d["state_dict"].__setitem__("extra.weight", d["state_dict"].pop("linear.bias")),
        "missing linear.bias; unexpected 'extra.weight'",
    )


def test_a_cnn_with_a_negative_running_variance_is_refused():
    _assert_refused(
        lambda d: d["state_dict"].__setitem__("features.1.running_var", -torch.ones(16)),
        "running_var is negative",
        "cnn",
    )


@pytest.mark.parametrize(
    "classes, fragment",
    [
        (["T-shirt"] * 11, "11 classes"),
        ([1] * 10, "Class name 0 is 1, not text"),
        (["x" * 41] + ["y"] * 9, "1 to 40 printable characters"),
        (["a\nb"] + ["y"] * 9, "printable"),
        ("T-shirt", "not a list"),
    ],
    ids=["count", "type", "length", "control-char", "str"],
)
def test_bad_class_names_are_refused(classes, fragment):
    _assert_refused(lambda d: d.__setitem__("classes", classes), fragment)


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda d: d["config"].update(epochs=True), "epochs is True, not a whole number"),
        (lambda d: d["config"].update(lr="0.1"), "lr is '0.1', not a number"),
        (lambda d: d["config"].update(lr=float("nan")), "learning rate"),
        (lambda d: d["config"].update(hidden=1), "unexpected fields: 'hidden'"),
        (lambda d: d.update(steps=-1), "step count is -1"),
        (lambda d: d.update(steps=1.5), "not a whole number"),
        (lambda d: d.update(surprise=1), "unexpected fields: 'surprise'"),
        (lambda d: d.update(generator=torch.zeros(3)), "generator's state"),
    ],
    ids=["epochs-bool", "lr-text", "lr-nan", "config-extra", "steps-negative", "steps-float", "extra", "generator"],
)
def test_bad_settings_and_counters_are_refused(change, fragment):
    _assert_refused(change, fragment)


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o["group"].update(lr=float("nan")),
        lambda o: o["group"].update(lr="fast"),
        lambda o: o["group"].update(evil=1),
        lambda o: o["state"].update(exp_avg=[torch.full((10, 784), float("inf")), None]),
        lambda o: o["state"].update(exp_avg=[torch.zeros(3), None]),
        lambda o: o.update(steps=-5),
    ],
    ids=["lr-nan", "lr-text", "extra", "buffer-inf", "buffer-shape", "steps"],
)
def test_an_unusable_optimizer_state_is_dropped_with_a_note_and_the_weights_kept(change):
    d = _trained_dict(optimizer="adam", lr=1e-3)
    change(d["optimizer"])
    run = _load(d)
    assert "optimizer state could not be used" in run.message
    assert run.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert all(torch.isfinite(b).all() for bufs in run.optimizer.state.values() for b in bufs if b is not None)
    assert torch.equal(run.model.linear.weight, d["state_dict"]["linear.weight"])
