"""fmnist_lib.novelty on tiny data the tests make: a blank page and noise are flagged, training-like images not."""

from __future__ import annotations

import math

import pytest
import torch

from fmnist_lib import CLASSES
from fmnist_lib.inference import Classifier
from fmnist_lib.models import SoftmaxRegression
from fmnist_lib.novelty import (
    DISTANCE_QUANTILE,
    ENERGY_QUANTILE,
    NoveltyCheck,
    both_views,
    energy,
    fit_check,
    fit_pixels,
    flags,
    judge,
    max_prob_score,
    pixel_distance,
    pixel_residual,
    reference_images,
    threshold,
)
from fmnist_lib.scaling import UNIT
from tests.support.data import make_tiny_data

K = 8  # components: the tiny data has far fewer images than 784 pixels


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_data(n_train=2000, n_test=200, seed=0)


def _template_classifier(data) -> Classifier:
    """Softmax regression whose weights are each class's mean image (centred): a training-like image
    gets one large logit, a blank page none (its logits are the zero biases)."""
    m = SoftmaxRegression()
    x = data.train_images.reshape(-1, 784).float() / 255
    means = torch.stack([x[data.train_labels == c].mean(0) for c in range(10)])  # [10, 784]
    with torch.no_grad():
        m.linear.weight.copy_((means - x.mean(0)) * 4)
        m.linear.bias.zero_()
    return Classifier(m, UNIT, CLASSES, "softmax")


@pytest.fixture(scope="module")
def check(tiny) -> tuple[NoveltyCheck, Classifier]:
    clf = _template_classifier(tiny)
    return fit_check(clf, tiny.train_images, fit_pixels(tiny.train_images, K)), clf


def test_a_blank_page_is_flagged_for_weak_evidence_and_far_pixels(check):
    chk, clf = check
    (n,) = judge(chk, clf, torch.zeros(28, 28, dtype=torch.uint8))
    assert n.flagged and n.weak_evidence and n.far_pixels
    assert n.energy == pytest.approx(-math.log(10)), "zero logits: −logsumexp = −log 10"


def test_noise_is_flagged_by_its_pixels(check):
    chk, clf = check
    noise = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    assert all(n.far_pixels and n.flagged for n in judge(chk, clf, noise))


def test_training_like_images_are_not_flagged(tiny, check):
    chk, clf = check
    flagged = flags(chk, clf, tiny.test_images)  # new images from the same generator
    assert flagged.float().mean() <= 0.05
    assert [n.flagged for n in judge(chk, clf, tiny.test_images[:20])] == flagged[:20].tolist()


def test_each_threshold_lets_through_its_quantile_of_the_references(tiny, check):
    chk, clf = check
    n = judge(chk, clf, tiny.train_images)
    assert sum(x.weak_evidence for x in n) <= (1 - ENERGY_QUANTILE) * len(n) + 1
    assert sum(x.far_pixels for x in n) <= (1 - DISTANCE_QUANTILE) * len(n) + 1
    assert (chk.energy_quantile, chk.distance_quantile) == (ENERGY_QUANTILE, DISTANCE_QUANTILE)


def test_threshold_is_an_actual_score_at_the_quantile():
    scores = torch.arange(100, dtype=torch.float64)
    assert threshold(scores, 0.95) == 95.0
    assert float((scores > threshold(scores, 0.95)).double().mean()) <= 0.05


def test_the_check_is_deterministic(tiny):
    clf = _template_classifier(tiny)
    a = fit_check(clf, tiny.train_images, fit_pixels(tiny.train_images, K))
    b = fit_check(clf, tiny.train_images, fit_pixels(tiny.train_images, K))
    assert (a.energy_threshold, a.distance_threshold) == (b.energy_threshold, b.distance_threshold)


def test_pixel_distance_is_about_one_on_the_images_it_was_fitted_on(tiny):
    pm = fit_pixels(tiny.train_images, K)
    n = len(tiny.train_images)
    assert float(pixel_distance(pm, tiny.train_images).mean()) == pytest.approx((n - 1) / n, rel=1e-6)
    assert pm.components.shape == (K, 784)
    assert torch.allclose(pm.components @ pm.components.T, torch.eye(K, dtype=torch.float64), atol=1e-9)


def test_an_image_on_the_components_has_no_residual(tiny):
    pm = fit_pixels(tiny.train_images, K)
    on_mean = (pm.mean * 255).round().to(torch.uint8).reshape(1, 28, 28)
    assert float(pixel_residual(pm, on_mean)[0]) < 0.01  # only the rounding to uint8 is left


def test_energy_and_max_probability():
    z = torch.tensor([[0.0] * 10, [20.0] + [0.0] * 9])
    assert energy(z).tolist() == pytest.approx([-math.log(10), -(20 + math.log(1 + 9 * math.exp(-20)))])
    assert max_prob_score(z).tolist() == pytest.approx([0.9, 9 * math.exp(-20) / (1 + 9 * math.exp(-20))])


def test_a_score_is_the_lower_of_the_two_views():
    img = torch.zeros(1, 28, 28, dtype=torch.uint8)
    img[0, :, :5] = 255  # all its mass on the left

    def left_mass(x):
        return x[:, :, :14].double().sum((1, 2))

    assert float(both_views(left_mass, img)[0]) == 0.0  # its mirror image has nothing on the left


def test_reference_images_are_every_tenth(tiny):
    refs = reference_images(tiny.train_images)
    assert len(refs) == 200 and torch.equal(refs[1], tiny.train_images[10])
