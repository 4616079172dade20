"""fmnist_lib.loop: the optimizers, progress reports, the divergence guard and thread count."""

from __future__ import annotations

import math

import pytest
import torch

from fmnist_lib.config import default_config
from fmnist_lib.loop import EXPLODING_LOSS, TrainingDiverged, make_optimizer, set_threads, train_epoch
from fmnist_lib.optim import SGD, Adam
from fmnist_lib.run import TrainingRun


@pytest.mark.parametrize(
    "name, cls, momentum",
    [("sgd", SGD, 0), ("momentum", SGD, 0.9), ("adam", Adam, None)],
)
def test_optimizers(name, cls, momentum):
    run = TrainingRun(default_config("softmax", optimizer=name, weight_decay=1e-4))
    opt = make_optimizer(run.model, run.config)
    assert isinstance(opt, cls)
    assert opt.param_groups[0]["weight_decay"] == 1e-4
    if momentum is not None:
        assert opt.param_groups[0]["momentum"] == momentum


def test_progress_callback_every_few_steps(tiny_data):
    events = []
    run = TrainingRun(default_config("softmax", epochs=1, batch_size=1))
    run.train_one_epoch(tiny_data, on_progress=events.append)
    assert [p.step for p in events] == [25, 50, 64]
    assert events[-1].steps_per_epoch == 64 and events[-1].examples == 64
    assert all(p.loss > 0 for p in events)


@pytest.mark.parametrize("model, lr", [("softmax", 1e4), ("cnn", 1e6)])
def test_diverging_run_stops_with_a_learners_reason_and_rolls_back(tiny_data, model, lr):
    run = TrainingRun(default_config(model, lr=lr, epochs=3, batch_size=8, optimizer="sgd"))
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    status = run.fit(tiny_data)
    assert status == "diverged"
    assert run.history == []
    assert "learning rate of" in run.message and "too large" in run.message and "step" in run.message
    assert f"{lr / 10:g}" in run.message
    for k, v in run.model.state_dict().items():
        assert torch.equal(v, before[k]), k  # rolled back, finite weights
    # A diverged run still predicts (with its last good weights).
    assert torch.isfinite(run.classifier().logits(tiny_data.test_images[:2])).all()


def test_set_threads_sets_and_reports():
    before = set_threads(None)
    try:
        assert set_threads(1) == 1
        assert set_threads(0) == 1  # at least one thread
    finally:
        set_threads(before)
    assert set_threads(None) == before


def test_the_guard_hands_over_the_failed_epochs_per_step_losses(tiny_data):
    run = TrainingRun(default_config("softmax", lr=1e4, batch_size=8))
    with pytest.raises(TrainingDiverged) as e:
        train_epoch(
            run.model, run.optimizer, tiny_data.train_images, tiny_data.train_labels,
            scaling=run.scaling, batch_size=8, generator=run.generator, epoch=2, first_step=40,
        )  # fmt: skip
    failed = e.value.failed
    assert failed.epoch == 2 and failed.first_step == 40 and failed.threshold == EXPLODING_LOSS
    *before, last = failed.losses
    assert before and all(math.isfinite(v) and v <= EXPLODING_LOSS for v in before)
    assert not math.isfinite(last) or last > EXPLODING_LOSS, "the last loss is the one that tripped the guard"
    assert f"at step {40 + len(failed.losses)} (epoch 2)" in str(e.value)
