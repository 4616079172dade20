"""fmnist_lib.tutorial_scaling: what the tutorial's normalisation did to one image, and on labelled images,
on hand-made softmax models whose answers are known in advance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fmnist_lib import CLASSES
from fmnist_lib.inference import Classifier
from fmnist_lib.models import SoftmaxRegression
from fmnist_lib.scaling import STANDARDIZED, UNIT
from fmnist_lib.tutorial_scaling import CONFIDENT, on_test_set, one_image

BLACK = np.zeros((28, 28), np.uint8)


def _softmax(weights: dict[int, np.ndarray], bias: dict[int, float] | None = None, scaling=UNIT) -> Classifier:
    """A softmax regression with the given class rows of W ([784] each; others 0) and biases (others 0)."""
    m = SoftmaxRegression()
    with torch.no_grad():
        m.linear.weight.zero_()
        m.linear.bias.zero_()
        for c, row in weights.items():
            m.linear.weight[c] = torch.as_tensor(row, dtype=torch.float32)
        for c, b in (bias or {}).items():
            m.linear.bias[c] = b
    return Classifier(m, scaling, CLASSES, "softmax")


def _one_pixel_model() -> Classifier:
    """Class 3 is the evidence of pixel 0: the standardised pixel (2.02 for white) only makes it surer."""
    row = np.zeros(784, np.float32)
    row[0] = 5.0
    return _softmax({3: row})


def _background_model() -> Classifier:
    """On black, the model's own scaling gives class 7 (its bias); the tutorial's turns the background into
    -0.81 per pixel, and class 3's small negative weights into a logit of +6.35: class 3, sure of it."""
    return _softmax({3: np.full(784, -0.01, np.float32)}, {7: 1.0})


def test_the_same_answer_made_surer_is_told_as_agreeing_and_confident():
    img = BLACK.copy()
    img[0, 0] = 255
    facts = one_image(_one_pixel_model(), img)
    assert facts.agree and facts.confident and not facts.same_scaling
    assert facts.as_written[0]["index"] == facts.own[0]["index"] == 3
    assert facts.own[0]["prob"] == pytest.approx(math.exp(5) / (math.exp(5) + 9), rel=1e-5)
    assert facts.as_written[0]["prob"] > facts.own[0]["prob"]  # the bug stretched the logit
    assert len(facts.as_written) == len(facts.own) == 3


def test_another_answer_from_the_background_alone():
    facts = one_image(_background_model(), BLACK)
    assert facts.own[0]["index"] == 7 and facts.as_written[0]["index"] == 3
    assert not facts.agree and facts.confident  # sure, and not what the model's own scaling says
    z3 = -0.01 * 784 * (0 - STANDARDIZED.mean) / STANDARDIZED.std
    assert facts.as_written[0]["prob"] == pytest.approx(math.exp(z3) / (math.exp(z3) + math.e + 8), rel=1e-4)


def test_an_unsure_answer_is_not_confident():
    facts = one_image(_softmax({}, {1: 0.5}), BLACK)  # logits 0 or 0.5 either way: ~15%
    assert facts.agree and not facts.confident and facts.as_written[0]["prob"] < CONFIDENT


def test_a_model_trained_on_standardised_pixels_has_nothing_to_compare():
    img = BLACK.copy()
    img[0, 0] = 255
    model = _one_pixel_model()
    standardised = Classifier(model.model, STANDARDIZED, CLASSES, "softmax")
    facts = one_image(standardised, img)
    assert facts.same_scaling and facts.agree and facts.as_written == facts.own


def test_with_the_mirror_step_both_answers_read_the_view_it_reads():
    img = BLACK.copy()
    img[10, :] = 100  # a bar across the whole width...
    img[4:10, 0:6] = 255  # ...heavier on the left: it faces right, so the step reads its mirror image
    row = np.zeros((28, 28), np.float32)
    row[4:10, 22:28] = 1.0  # class 3: weight on the right, where the mirror image has the block
    model = _softmax({3: row.reshape(-1)})
    alone, mirrored = one_image(model, img), one_image(model, img, mirror=True)
    assert alone.own[0]["index"] != 3 and mirrored.own[0]["index"] == 3
    assert mirrored.as_written[0]["index"] == 3  # the tutorial's answer is read the same way
    assert mirrored.own == one_image(model, np.ascontiguousarray(img[:, ::-1])).own


def test_on_labelled_images_accuracy_agreement_and_confident_mistakes():
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)  # four black images
    labels = torch.tensor([7, 7, 7, 3])
    result = on_test_set(_background_model(), images, labels)  # own: always 7; as written: always 3, sure
    assert result.n == 4
    assert result.own_accuracy == 0.75 and result.as_written_accuracy == 0.25
    assert result.agreement == 0.0
    assert result.confident_wrong == 0.75  # wrong, at more than CONFIDENT, on the three 7s
    same = on_test_set(_softmax({}, {7: 1.0}), images, labels)  # no weights: the scaling changes nothing
    assert same.agreement == 1.0 and same.as_written_accuracy == same.own_accuracy == 0.75
    assert same.confident_wrong == 0.0  # 7 at 23% is no confident answer
