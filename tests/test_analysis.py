"""fmnist_lib.analysis: test-set predictions, per-class accuracy, mistakes, evidence maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fmnist_lib import TrainingRun, default_config
from fmnist_lib.analysis import (
    TestPredictions,
    calibrate,
    calibration_of,
    class_biases,
    cross_fit_temperature,
    ece_floor,
    evidence_maps,
    fit_temperature,
    per_class_accuracy,
    predict_test_set,
    reliability,
    templates,
)
from tests.support.data import make_tiny_data


@pytest.fixture(scope="module")
def tiny_run():
    data = make_tiny_data(n_train=256, n_test=64)
    run = TrainingRun(default_config("softmax", epochs=5, batch_size=32, lr=0.5))
    run.fit(data)
    return run, data


def test_per_class_accuracy_counts_each_true_class():
    pred = np.array([0, 0, 1, 1, 2, 0])
    labels = np.array([0, 1, 1, 1, 2, 2])
    acc = per_class_accuracy(pred, labels, num_classes=4)
    assert acc[0] == 1.0  # 1 of 1
    assert acc[1] == pytest.approx(2 / 3)
    assert acc[2] == 0.5
    assert np.isnan(acc[3])  # no examples of class 3


def test_predictions_match_the_classifier(tiny_run):
    run, data = tiny_run
    preds = predict_test_set(run.classifier(), data.test_images, data.test_labels)
    assert preds.pred.dtype == np.uint8 and preds.pred.shape == (64,)
    logits = run.classifier().logits(data.test_images)
    assert np.array_equal(preds.pred, logits.argmax(dim=1).numpy())
    probs = torch.softmax(logits, dim=1).max(dim=1).values.numpy()
    assert np.allclose(preds.confidence, probs, atol=1e-6)
    assert preds.accuracy == pytest.approx(run.test_acc)
    cm = preds.confusion()
    assert cm.sum() == 64 and np.trace(cm) == int(preds.correct.sum())


def test_mistakes_and_cells():
    preds = TestPredictions(
        pred=np.array([1, 0, 2, 1, 0], dtype=np.uint8),
        confidence=np.array([0.9, 0.5, 0.6, 0.99, 0.7], dtype=np.float32),
        labels=np.array([0, 0, 2, 0, 1], dtype=np.uint8),
    )
    assert preds.mistakes().tolist() == [0, 3, 4]
    assert preds.mistakes(most_confident=True).tolist() == [3, 0, 4]
    assert preds.cell(0, 1).tolist() == [3, 0]  # true 0 predicted 1, most confident first
    assert preds.cell(2, 2).tolist() == [2]
    assert preds.cell(1, 2).tolist() == []
    assert preds.per_class_accuracy(3).tolist()[:2] == [pytest.approx(1 / 3), 0.0]


def test_evidence_sums_to_the_logits(tiny_run):
    run, data = tiny_run
    clf = run.classifier()
    image = data.test_images[3]
    maps = evidence_maps(clf, image, range(10))
    assert maps.shape == (10, 28, 28)
    logits = clf.logits(image)[0].numpy()
    assert np.allclose(maps.reshape(10, -1).sum(axis=1) + class_biases(clf), logits, atol=1e-4)
    assert templates(clf).shape == (10, 28, 28)


def test_evidence_needs_softmax_regression():
    run = TrainingRun(default_config("cnn", epochs=1))
    with pytest.raises(ValueError, match="softmax"):
        evidence_maps(run.classifier(), np.zeros((28, 28), dtype=np.uint8), [0])
    with pytest.raises(ValueError):
        templates(run.classifier())


# --- calibration ---------------------------------------------------------------------


def test_ece_of_made_up_predictions():
    """100 predictions at 25% confidence, 25 right (calibrated); 100 at 85%, 60 right (25 points over)."""
    conf = np.r_[np.full(100, 0.25), np.full(100, 0.85)]
    correct = np.r_[np.arange(100) < 25, np.arange(100) < 60]
    rel = reliability(conf, correct, n_bins=10)
    assert rel.ece == pytest.approx(0.5 * 0.0 + 0.5 * 0.25)
    assert rel.counts.tolist() == [0, 0, 100, 0, 0, 0, 0, 0, 100, 0]
    assert rel.accuracy[2] == pytest.approx(0.25) and rel.accuracy[8] == pytest.approx(0.60)
    assert rel.confidence[8] == pytest.approx(0.85)
    assert np.isnan(rel.accuracy[0]) and np.isnan(rel.confidence[9])


def test_ece_of_an_over_confident_model_and_of_a_perfect_one():
    rel = reliability(np.full(50, 0.95), np.arange(50) < 40)  # sure at 95%, right 80% of the time
    assert rel.ece == pytest.approx(0.15)
    assert reliability(np.ones(10), np.ones(10, dtype=bool)).ece == 0.0
    assert reliability([0.1, 1.0], [False, True], n_bins=10).counts[[0, 9]].tolist() == [1, 1]  # the edges


@pytest.mark.parametrize("true_t", [0.5, 2.0, 3.0])
def test_fit_temperature_recovers_the_temperature_labels_were_drawn_with(true_t):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(20_000, 10, generator=g) * 3
    labels = torch.multinomial(torch.softmax(logits / true_t, dim=1), 1, generator=g).squeeze(1)
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.06)


def test_calibrate_reports_on_the_test_images_with_temperatures_fitted_on_their_halves(tiny_run):
    run, data = tiny_run
    cal = calibrate(run.classifier(), data.test_images, data.test_labels)  # no training images: they were seen
    assert cal.fit_images == len(data.test_labels) // 2
    assert cal.before.counts.sum() == cal.after.counts.sum() == len(data.test_labels)
    assert all(t > 0 for t in cal.temperatures) and cal.temperature > 0
    preds = predict_test_set(run.classifier(), data.test_images, data.test_labels)
    expected = reliability(preds.confidence, preds.correct)
    assert cal.before.ece == pytest.approx(expected.ece, abs=1e-6)


def _calibrated(n: int, scale: float = 3.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels drawn from softmax(logits): a model calibrated at T = 1 by construction."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 10, generator=g, dtype=torch.float64) * scale
    return logits, torch.multinomial(torch.softmax(logits, dim=1), 1, generator=g).squeeze(1)


def test_each_half_is_judged_with_the_temperature_fitted_on_the_other_half():
    logits, labels = _calibrated(2_000)
    labels[1::2] = torch.multinomial(torch.softmax(logits[1::2] / 3.0, dim=1), 1).squeeze(1)  # odd ones at T = 3
    fit = cross_fit_temperature(logits, labels)
    t_even, t_odd = fit.temperatures
    assert t_even == pytest.approx(1.0, rel=0.15) and t_odd == pytest.approx(3.0, rel=0.15)
    assert fit.per_image_temperature[0] == t_odd and fit.per_image_temperature[1] == t_even


def test_a_calibrated_model_keeps_its_ece_and_sits_near_the_floor_finite_samples_leave():
    """What Browse showed: T fitted on other images made an already calibrated model worse. Cross-fitted
    on test halves, T stays near 1 and the ECE does not grow beyond what sampling alone explains."""
    logits, labels = _calibrated(10_000)
    cal = calibration_of(logits, labels)
    assert all(t == pytest.approx(1.0, abs=0.06) for t in cal.temperatures)
    assert cal.after.ece <= cal.before.ece + 0.005
    assert 0 < cal.floor < 0.02  # 10,000 samples in 10 bins: an ECE of about a point is noise
    assert cal.before.ece < 2.5 * cal.floor


def test_an_over_confident_model_is_helped():
    logits, labels = _calibrated(10_000)
    cal = calibration_of(logits * 2.0, labels)  # twice as sure as it should be: T about 2 undoes it
    assert cal.temperature == pytest.approx(2.0, rel=0.1)
    assert cal.after.ece < cal.before.ece / 3 and cal.test_loss_after < cal.test_loss_before


def test_the_ece_floor_is_zero_for_certain_predictions_and_shrinks_with_more_images():
    assert ece_floor(np.ones(100)) == 0.0
    assert ece_floor(np.full(100_000, 0.7)) < ece_floor(np.full(1_000, 0.7))
