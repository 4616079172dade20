"""fmnist_lib.inference: predictions through the stored scaling, Top-k, temperature, confusion matrix."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fmnist_lib import CLASSES, TrainingRun, default_config
from fmnist_lib.inference import (
    Classifier,
    accuracy,
    confusion_matrix,
    heavier_side,
    own_view_weight,
    predict_logits,
    softmax_with_temperature,
)
from fmnist_lib.models import SoftmaxRegression
from fmnist_lib.scaling import UNIT, InputScaling


def _classifier(scaling: InputScaling = UNIT) -> Classifier:
    torch.manual_seed(0)
    m = SoftmaxRegression()
    torch.nn.init.normal_(m.linear.weight, std=0.05)
    return Classifier(m, scaling, CLASSES, "softmax")


def test_predict_gives_probabilities_and_top_k():
    clf = _classifier()
    imgs = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    p = clf.predict(imgs, k=3)
    assert p.probs.shape == (5, 10)
    assert torch.allclose(p.probs.sum(1), torch.ones(5))
    assert p.top_indices.shape == (5, 3)
    assert torch.all(p.top_probs[:, :-1] >= p.top_probs[:, 1:])  # best first
    top = p.top(2)
    assert [t["index"] for t in top] == p.probs[2].argsort(descending=True)[:3].tolist()
    assert top[0]["label"] == CLASSES[top[0]["index"]]


def test_predict_applies_the_stored_scaling():
    img = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8)
    a = _classifier(InputScaling(0.0, 1.0)).logits(img)
    b = _classifier(InputScaling(0.2860, 0.3530)).logits(img)
    m = _classifier().model
    x = img.float().div(255).sub(0.2860).div(0.3530).view(1, -1)
    assert torch.allclose(b, m.linear(x), atol=1e-5)
    assert not torch.allclose(a, b)


def test_predict_accepts_a_single_numpy_image_and_refuses_floats():
    clf = _classifier()
    img = np.zeros((28, 28), dtype=np.uint8)
    assert clf.predict(img).probs.shape == (1, 10)
    with pytest.raises(TypeError, match="uint8"):
        clf.predict(torch.rand(1, 28, 28))
    with pytest.raises(ValueError, match="28x28"):
        clf.predict(np.zeros((20, 20), dtype=np.uint8))


def test_temperature_keeps_the_order_and_changes_the_sharpness():
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    sharp = softmax_with_temperature(logits, 0.5)
    flat = softmax_with_temperature(logits, 5.0)
    plain = softmax_with_temperature(logits, 1.0)
    assert torch.allclose(plain, torch.softmax(logits, 1))
    assert sharp[0, 0] > plain[0, 0] > flat[0, 0]
    assert sharp.argsort().tolist() == flat.argsort().tolist()
    with pytest.raises(ValueError):
        softmax_with_temperature(logits, 0.0)


def test_confusion_matrix_counts_true_by_predicted():
    cm = confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), num_classes=3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_eval_mode_restored_after_prediction(tiny_data):
    run = TrainingRun(default_config("cnn", epochs=1, batch_size=16))
    run.model.train()
    run.classifier().predict(tiny_data.test_images[:2])
    assert run.model.training


def _boot(right_heavy: bool = True) -> torch.Tensor:
    """A tiny boot facing left like Fashion-MNIST's: a sole across, the shaft on the right. uint8 [28, 28]."""
    img = torch.zeros(28, 28, dtype=torch.uint8)
    img[18:24, 0:28] = 200  # the sole, the full width
    img[4:18, 16:28] = 255  # the shaft, heavier on the right
    return img if right_heavy else img.flip(-1)


def test_heavier_side_measures_the_centre_of_mass_against_the_box():
    boot = _boot()
    symmetric = torch.zeros(28, 28, dtype=torch.uint8)
    symmetric[2:26, 8:20] = 180  # trousers-like: mass centred in its box
    offsets = heavier_side(torch.stack([boot, boot.flip(-1), symmetric, torch.zeros(28, 28, dtype=torch.uint8)]))
    assert offsets[0] > 2  # the shaft pulls the mass right of the box's centre (13.5)
    assert torch.isclose(offsets[1], -offsets[0])  # the mirror image: as far to the left
    assert offsets[2] == 0 and offsets[3] == 0  # a symmetric garment; an empty image
    weights = own_view_weight(torch.stack([boot, boot.flip(-1), symmetric]))
    assert weights.tolist() == [1.0, 0.0, 0.5]


def test_view_read_is_the_mirror_image_only_for_a_garment_facing_right():
    boot = _boot().numpy()
    symmetric = np.zeros((28, 28), np.uint8)
    symmetric[2:26, 8:20] = 180
    view_read = _classifier().view_read  # a model never shown a mirror image
    assert view_read(boot)[1] is False and view_read(boot)[0] is boot
    pixels, mirrored = view_read(boot[:, ::-1])
    assert mirrored and np.array_equal(pixels, boot)
    assert view_read(symmetric)[1] is False  # balanced: the step averages, the image itself is explained


def test_views_read_are_every_view_the_mirror_step_reads():
    boot = _boot().numpy()  # faces Fashion-MNIST's way
    symmetric = np.zeros((28, 28), np.uint8)
    symmetric[2:26, 8:20] = 180
    views = _classifier().views_read
    assert [(m, np.array_equal(p, boot)) for p, m in views(boot)] == [(False, True)]
    assert [(m, np.array_equal(p, boot)) for p, m in views(boot[:, ::-1])] == [(True, True)]  # read in the mirror
    both = views(symmetric)  # balanced: the step averages both views, so both are read
    assert [m for _, m in both] == [False, True] and np.array_equal(both[1][0], symmetric[:, ::-1])
    averaged = dataclasses.replace(_classifier(), saw_mirrors=True).views_read(boot)  # trained on mirror images
    assert [m for _, m in averaged] == [False, True]


def test_mirror_aware_prediction_turns_the_garment_to_face_left():
    clf = _classifier()
    symmetric = torch.zeros(28, 28, dtype=torch.uint8)
    symmetric[2:26, 8:20] = 180
    imgs = torch.stack([_boot(), _boot(right_heavy=False), symmetric])
    own, mirrored = clf.predict(imgs).probs, clf.predict(imgs.flip(-1)).probs
    both = clf.predict(imgs, k=3, mirror=True)
    assert torch.allclose(both.probs[0], own[0])  # already faces Fashion-MNIST's way: read as it is
    assert torch.allclose(both.probs[1], mirrored[1])  # faces right: read in the mirror
    assert torch.allclose(both.probs[2], (own[2] + mirrored[2]) / 2)  # symmetric: both averaged
    assert not torch.allclose(own[1], mirrored[1])  # so each case above could have failed
    assert torch.allclose(both.probs.sum(1), torch.ones(3))
    assert torch.allclose(torch.softmax(both.logits, dim=1), both.probs)  # logits stay consistent
    # An image and its mirror image get the same mirror-aware answer, random ones included.
    rand = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    for x in (imgs, rand):
        assert torch.allclose(clf.predict(x.flip(-1), mirror=True).probs, clf.predict(x, mirror=True).probs)


def test_predict_both_ways_shows_what_the_mirror_step_changed():
    clf = _classifier()
    img = _boot(right_heavy=False)  # a boot facing right: the model goes by its mirror image
    step = clf.predict_both_ways(img, k=3)
    assert torch.equal(step.mirrored_images[0], img.flip(-1))
    assert torch.allclose(step.own.probs, clf.predict(img).probs)
    assert torch.allclose(step.mirrored.probs, clf.predict(img.flip(-1)).probs)
    assert torch.allclose(step.combined.probs, clf.predict(img, mirror=True).probs)
    assert not torch.allclose(step.own.probs, step.mirrored.probs)
    assert step.own_weight.tolist() == [0.0] and step.offset[0] < -2
    assert torch.allclose(step.combined.probs, step.mirrored.probs)
    assert len(step.combined.top(0)) == 3


def test_a_model_trained_on_mirror_images_averages_both_views():
    clf = dataclasses.replace(_classifier(), saw_mirrors=True)
    right = _boot(right_heavy=False)  # faces right: the tutorial's softmax would read only its mirror image
    own, mirrored = clf.predict(right).probs, clf.predict(right.flip(-1)).probs
    assert not torch.allclose(own, mirrored)  # so the average below differs from either view
    assert torch.allclose(clf.predict(right, mirror=True).probs, (own + mirrored) / 2)
    step = clf.predict_both_ways(right, k=3)
    assert step.saw_mirrors and step.own_weight.tolist() == [0.5] and step.offset[0] < -2
    assert torch.allclose(step.combined.probs, (own + mirrored) / 2)
    pixels, read_mirror = clf.view_read(right.numpy())  # averaged: the image itself is explained
    assert not read_mirror and np.array_equal(pixels, right.numpy())
    assert _classifier().view_read(right.numpy())[1] is True  # never saw a mirror image: reads the mirror


@pytest.mark.parametrize(("augment", "saw_mirrors"), [("off", False), ("mirror", True), ("mirror+shift", True)])
def test_a_runs_classifier_knows_whether_it_was_trained_on_mirror_images(augment, saw_mirrors):
    run = TrainingRun(default_config("softmax", augment=augment))
    assert run.classifier().saw_mirrors is saw_mirrors


def test_a_pass_over_many_images_calls_between_after_each_batch_and_gives_the_same_numbers():
    """A training worker checks for Stop between the test pass's batches: the pass is the same with or without."""
    clf = _classifier()
    imgs = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2, 3, 4])
    calls = []
    logits = predict_logits(clf.model, clf.scaling, imgs, batch_size=2, between=lambda: calls.append(1))
    assert len(calls) == 3 and torch.equal(logits, predict_logits(clf.model, clf.scaling, imgs, batch_size=2))
    acc = accuracy(clf.model, clf.scaling, imgs, labels, between=lambda: calls.append(1))
    assert len(calls) == 4 and acc == accuracy(clf.model, clf.scaling, imgs, labels)  # one batch of 2,000
