"""fmnist_lib.inference: predictions through the stored scaling, Top-k, temperature, confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fmnist_lib import CLASSES, TrainingRun, default_config
from fmnist_lib.inference import Classifier, confusion_matrix, softmax_with_temperature
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


def test_mirror_aware_prediction_averages_the_image_and_its_mirror():
    clf = _classifier()
    imgs = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    own, mirrored = clf.predict(imgs).probs, clf.predict(imgs.flip(-1)).probs
    both = clf.predict(imgs, k=3, mirror=True)
    assert torch.allclose(both.probs, (own + mirrored) / 2)
    assert torch.allclose(both.probs.sum(1), torch.ones(4))
    assert torch.allclose(torch.softmax(both.logits, dim=1), both.probs)  # logits stay consistent
    # An image and its mirror image get the same mirror-aware answer.
    assert torch.allclose(clf.predict(imgs.flip(-1), mirror=True).probs, both.probs)


def test_predict_both_ways_shows_what_the_mirror_step_changed():
    clf = _classifier()
    img = torch.zeros(28, 28, dtype=torch.uint8)
    img[10:20, 2:9] = 255  # a patch on the left: its mirror image has it on the right
    step = clf.predict_both_ways(img, k=3)
    assert torch.equal(step.mirrored_images[0], img.flip(-1))
    assert torch.allclose(step.own.probs, clf.predict(img).probs)
    assert torch.allclose(step.mirrored.probs, clf.predict(img.flip(-1)).probs)
    assert torch.allclose(step.combined.probs, clf.predict(img, mirror=True).probs)
    assert not torch.allclose(step.own.probs, step.mirrored.probs)
    assert len(step.combined.top(0)) == 3
