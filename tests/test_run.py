"""fmnist_lib.run: learning, determinism, stop and continue, one loop at a time."""

from __future__ import annotations

import threading

import pytest
import torch

from fmnist_lib.config import default_config
from fmnist_lib.run import RunBusyError, TrainingRun


@pytest.mark.parametrize("model", ["softmax", "cnn"])
def test_training_learns_the_tiny_data_and_reports_each_epoch(tiny_data, model):
    # Without augmentation: the tiny data's classes are bands 2 rows apart, which shifts would mix up.
    lr = 0.5 if model == "softmax" else 0.01
    run = TrainingRun(default_config(model, epochs=4, batch_size=16, lr=lr, augment="off", schedule="constant"))
    before = run.classifier().accuracy(tiny_data.test_images, tiny_data.test_labels)
    seen = []
    status = run.fit(tiny_data, on_epoch=seen.append)
    assert status == "finished"
    assert [e.epoch for e in run.history] == [1, 2, 3, 4] and seen == run.history
    last = run.history[-1]
    assert last.test_acc > max(0.8, before)
    assert last.train_loss < run.history[0].train_loss
    assert all(e.examples == 64 and e.complete and e.seconds > 0 and e.examples_per_sec > 0 for e in run.history)
    assert "Test accuracy" in run.message


def test_same_seed_same_run_different_seed_different_run(tiny_data):
    def run(seed):
        r = TrainingRun(default_config("softmax", epochs=3, batch_size=8, seed=seed))
        r.fit(tiny_data)
        return [(e.train_loss, e.train_acc, e.test_acc) for e in r.history], r.model.linear.weight.clone()

    h1, w1 = run(7)
    h2, w2 = run(7)
    h3, w3 = run(8)
    assert h1 == h2 and torch.equal(w1, w2)
    assert not torch.equal(w1, w3)


def test_testing_only_the_last_epoch_trains_the_same_model(tiny_data):
    every = TrainingRun(default_config("softmax", epochs=3, batch_size=8, seed=3))
    every.fit(tiny_data)
    last = TrainingRun(default_config("softmax", epochs=3, batch_size=8, seed=3))
    last.fit(tiny_data, test_every_epoch=False)
    assert [e.test_acc is None for e in last.history] == [True, True, False]
    assert torch.equal(every.model.linear.weight, last.model.linear.weight)
    assert last.test_acc == every.test_acc and last.status == "finished"
    assert "Test accuracy" in last.message
    # Continuing tests its own last epoch too.
    last.fit(tiny_data, epochs=2, test_every_epoch=False)
    assert [e.test_acc is None for e in last.history[3:]] == [True, False]


def test_global_rng_is_not_disturbed(tiny_data):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    TrainingRun(default_config("softmax", epochs=1)).fit(tiny_data)
    assert torch.equal(torch.rand(3), expected)


def test_stop_between_steps_keeps_model_and_history_then_continue(tiny_data):
    run = TrainingRun(default_config("softmax", epochs=3, batch_size=8))
    run.fit(tiny_data, epochs=1)
    weights_after_1 = run.model.linear.weight.clone()
    steps = {"n": 0}

    def stop_after_3_steps():
        steps["n"] += 1
        return steps["n"] > 3

    status = run.fit(tiny_data, should_stop=stop_after_3_steps)
    assert status == "stopped"
    assert len(run.history) == 2
    partial = run.history[-1]
    assert not partial.complete and partial.examples == 24 and partial.epoch == 2
    assert not torch.equal(run.model.linear.weight, weights_after_1)  # what was learned is kept
    assert "Stopped during epoch 2" in run.message
    # Continue: up to config.epochs in all, then further on request.
    assert run.fit(tiny_data) == "finished"
    assert [e.epoch for e in run.history] == [1, 2, 3] and run.history[-1].complete
    run.fit(tiny_data, epochs=2)
    assert [e.epoch for e in run.history] == [1, 2, 3, 4, 5]


def test_stop_before_the_first_step_records_nothing(tiny_data):
    run = TrainingRun(default_config("softmax"))
    assert run.train_one_epoch(tiny_data, should_stop=lambda: True) is None
    assert run.history == [] and run.status == "stopped"


def test_continuing_equals_training_straight_through(tiny_data):
    a = TrainingRun(default_config("softmax", epochs=4, batch_size=8, optimizer="momentum"))
    a.fit(tiny_data)
    b = TrainingRun(default_config("softmax", epochs=4, batch_size=8, optimizer="momentum"))
    b.fit(tiny_data, epochs=2)
    b.fit(tiny_data)
    assert torch.equal(a.model.linear.weight, b.model.linear.weight)


def test_two_loops_never_train_the_same_run(tiny_data):
    run = TrainingRun(default_config("softmax", batch_size=4))
    started, release = threading.Event(), threading.Event()

    def slow_stop():
        started.set()
        release.wait(5)
        return False

    t = threading.Thread(target=run.train_one_epoch, args=(tiny_data,), kwargs={"should_stop": slow_stop})
    t.start()
    assert started.wait(5)
    with pytest.raises(RunBusyError):
        run.train_one_epoch(tiny_data)
    release.set()
    t.join(5)
    assert len(run.history) == 1


@pytest.mark.integration
def test_real_softmax_with_tutorial_settings_reaches_the_tutorials_accuracy(trained_softmax):
    # The tutorial's own loop reaches 82.5-83.4%; the bench checks the same target at full length.
    assert trained_softmax.history[-1].test_acc >= 0.82
    assert len(trained_softmax.history) == 10


@pytest.mark.integration
def test_the_tutorials_softmax_keeps_its_result_at_seed_0(trained_softmax):
    # 82.32% at seed 0 with the tutorial's settings, as before augmentation and one-cycle existed.
    assert trained_softmax.test_acc == pytest.approx(0.8232, abs=1e-6)


def test_a_diverged_run_keeps_the_failed_epochs_losses_until_an_epoch_completes(tiny_data):
    run = TrainingRun(default_config("softmax", lr=1e4, epochs=2, batch_size=8))
    assert run.fit(tiny_data) == "diverged"
    assert run.diverged is not None and run.diverged.epoch == 1 and run.diverged.first_step == 0
    assert f"at step {len(run.diverged.losses)} (epoch 1)" in run.message
    run.config = default_config("softmax", lr=0.1, epochs=2, batch_size=8)
    assert run.train_one_epoch(tiny_data) is not None
    assert run.diverged is None


def test_stop_pause_and_fail_set_the_state_and_continue_follows(tiny_data):
    run = TrainingRun(default_config("softmax", epochs=3, batch_size=8))
    run.fit(tiny_data, epochs=1)
    assert run.status == "stopped" and run.can_continue
    run.pause("you left the Train page")
    assert run.status == "stopped" and run.paused_because == "you left the Train page" and run.can_continue
    run.stop()
    assert run.status == "stopped" and run.paused_because is None and run.can_continue
    run.fail("its worker died")
    assert run.status == "failed" and run.message == "its worker died" and run.can_continue
    run.fit(tiny_data)
    assert run.status == "finished" and not run.can_continue
    run.stop()
    run.pause("anything")
    assert run.status == "finished" and run.paused_because is None, "a finished run stays finished"


def test_a_pause_while_an_epoch_trains_outlives_the_epoch(tiny_data):
    # The page is left while an earlier script run still trains: the epoch ends after pause().
    run = TrainingRun(default_config("softmax", epochs=3, batch_size=8))
    calls = {"n": 0}

    def pause_then_stop():
        calls["n"] += 1
        if calls["n"] == 2:
            run.pause("you left the Train page")
        return calls["n"] > 2

    run.train_one_epoch(tiny_data, should_stop=pause_then_stop)
    assert run.status == "stopped" and run.paused_because == "you left the Train page"
    assert "paused because you left the Train page" in run.summary()[1]


def test_summary_of_each_state(tiny_data):
    run = TrainingRun(default_config("softmax", epochs=2, batch_size=8))
    assert run.summary() == ("info", "This run has no completed training yet.")
    run.fit(tiny_data)
    total = sum(e.seconds for e in run.history)
    level, text = run.summary()
    assert level == "success"
    assert text == f"Finished 2 epochs in {total:.1f} s of training. Test accuracy {run.test_acc:.1%}."

    stopped = TrainingRun(default_config("softmax", epochs=3, batch_size=8))
    stopped.fit(tiny_data, epochs=1)
    stopped.stop()
    level, text = stopped.summary()
    assert level == "info" and text.startswith("Stopped after 1 epoch in ") and "Test accuracy" in text
    assert "part-way" not in text
    calls = iter(range(100))
    stopped.fit(tiny_data, should_stop=lambda: next(calls) >= 2)
    assert "Stopped after 1 full epoch and part of the next in " in stopped.summary()[1]

    stopped.pause("the worker was needed elsewhere")
    level, text = stopped.summary()
    assert (
        level == "info"
        and "paused because the worker was needed elsewhere, after 1 full epoch and part of the next" in text
    )
    assert "Continue" in text

    stopped.fail("Its worker stopped.")
    assert stopped.summary() == ("error", "Its worker stopped. It has 2 epochs of training.")

    diverged = TrainingRun(default_config("softmax", lr=1e4, epochs=2, batch_size=8))
    diverged.fit(tiny_data)
    level, text = diverged.summary()
    assert level == "error" and text == diverged.message and "epoch 1" in text and "good epoch" not in text


def test_summary_after_continue_gives_the_total_time_and_the_last_stretch(tiny_data):
    run = TrainingRun(default_config("softmax", epochs=5, batch_size=8))
    run.fit(tiny_data, epochs=2)
    run.history[0].seconds, run.history[1].seconds = 10.0, 12.0  # as if the first press took 22 s
    run.fit(tiny_data)
    run.history[2].seconds = run.history[3].seconds = run.history[4].seconds = 1.0
    level, text = run.summary(stretch=(3, 3.04))
    assert level == "success"
    assert text.startswith("Finished 5 epochs in 25.0 s of training (the last 3 in 3.0 s). Test accuracy ")
    # A stretch that is the whole run is not told twice.
    assert "the last" not in run.summary(stretch=(5, 25.0))[1]


def test_a_snapshot_restores_the_same_run_and_it_trains_on_the_same(tiny_data):
    config = default_config("softmax", epochs=4, batch_size=8, optimizer="momentum")
    straight = TrainingRun(config)
    straight.fit(tiny_data)

    run = TrainingRun(config)
    run.fit(tiny_data, epochs=2)
    run.pause("the worker was needed")
    snap = run.snapshot()
    run.fit(tiny_data)  # training on must not change the snapshot already taken
    copy = TrainingRun.from_snapshot(snap)
    assert copy.epochs_done == 2 and copy.status == "stopped" and copy.steps == 16
    assert copy.paused_because == "the worker was needed"
    assert [(e.train_loss, e.test_acc) for e in copy.history] == [(e.train_loss, e.test_acc) for e in run.history[:2]]
    copy.fit(tiny_data)
    assert torch.equal(copy.model.linear.weight, straight.model.linear.weight)
    assert [e.train_loss for e in copy.history] == [e.train_loss for e in straight.history]

    # restore() into the live run brings it back to the snapshot; another run's snapshot is refused.
    run.restore(snap)
    assert run.epochs_done == 2 and run.status == "stopped"
    other = TrainingRun(default_config("softmax", epochs=4, batch_size=8, seed=9))
    with pytest.raises(ValueError, match="another run"):
        other.restore(snap)


def test_an_epoch_measured_after_training_equals_one_measured_within_it(tiny_data):
    """A worker trains each epoch with test=False and measures it next (telling the page of a Stop between
    test batches): the same test accuracy to the bit, the same message, the test pass's time in the epoch's."""
    within, after = TrainingRun(default_config("softmax", epochs=2)), TrainingRun(default_config("softmax", epochs=2))
    within.train_one_epoch(tiny_data)
    after.train_one_epoch(tiny_data, test=False)
    assert after.history[-1].test_acc is None and after.message == "Epoch 1 done."
    calls = []
    after.measure_last_epoch(tiny_data, between=lambda: calls.append(1))
    assert after.history[-1].test_acc == within.history[-1].test_acc and after.message == within.message
    assert calls, "between() was called during the test pass"
