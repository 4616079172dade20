"""Analyses of a trained classifier for the dashboard: test-set predictions,
per-class accuracy, mistakes, the per-pixel evidence of softmax regression, and
calibration (reliability diagram, expected calibration error, temperature scaling).

Everything returns numpy arrays (small ones), so the UI needs no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .inference import Classifier, as_uint8_images, confusion_matrix, predict_logits
from .models import SoftmaxRegression


@dataclass(frozen=True)
class TestPredictions:
    """A classifier's predictions on a set of labelled images (uint8 and float32: ~90 KB for 10,000)."""

    __test__ = False  # not a pytest test class, despite its name

    pred: np.ndarray  # [N] uint8, the predicted class
    confidence: np.ndarray  # [N] float32, the probability of the predicted class
    labels: np.ndarray  # [N] uint8, the true class

    @property
    def correct(self) -> np.ndarray:
        return self.pred == self.labels

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if len(self.pred) else float("nan")

    def confusion(self, num_classes: int = 10) -> np.ndarray:
        """[true, predicted] counts."""
        return confusion_matrix(
            torch.from_numpy(self.pred.astype(np.int64)), torch.from_numpy(self.labels.astype(np.int64)), num_classes
        ).numpy()

    def per_class_accuracy(self, num_classes: int = 10) -> np.ndarray:
        return per_class_accuracy(self.pred, self.labels, num_classes)

    def mistakes(self, most_confident: bool = False) -> np.ndarray:
        """Indices of the wrong predictions: in index order, or most confident first."""
        idx = np.flatnonzero(~self.correct)
        if most_confident:
            idx = idx[np.argsort(-self.confidence[idx], kind="stable")]
        return idx

    def cell(self, true_class: int, predicted_class: int) -> np.ndarray:
        """Indices of the images of class `true_class` predicted as `predicted_class`, most confident first."""
        idx = np.flatnonzero((self.labels == true_class) & (self.pred == predicted_class))
        return idx[np.argsort(-self.confidence[idx], kind="stable")]


def predict_test_set(classifier: Classifier, images: torch.Tensor, labels: torch.Tensor) -> TestPredictions:
    """Predicted class and its probability for every image (uint8 [N,28,28]) in one pass
    (in predict_logits' batches: bounded memory)."""
    logits = predict_logits(classifier.model, classifier.scaling, as_uint8_images(images))
    probs = torch.softmax(logits, dim=1)
    conf, pred = probs.max(dim=1)
    return TestPredictions(
        pred=pred.to(torch.uint8).numpy(),
        confidence=conf.to(torch.float32).numpy(),
        labels=torch.as_tensor(labels).to(torch.uint8).numpy(),
    )


def per_class_accuracy(pred, labels, num_classes: int = 10) -> np.ndarray:
    """Fraction right per true class, [num_classes] float64 (NaN for a class with no examples)."""
    pred = np.asarray(pred).astype(np.int64)
    labels = np.asarray(labels).astype(np.int64)
    total = np.bincount(labels, minlength=num_classes).astype(np.float64)
    right = np.bincount(labels[pred == labels], minlength=num_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, right / np.maximum(total, 1), np.nan)


def evidence_maps(classifier: Classifier, image, class_indices) -> np.ndarray:
    """Per-pixel evidence of softmax regression: w_c * x for each class c, [k, 28, 28] float32.

    x is the image as the model sees it (after its input scaling); summing a map
    and adding the bias b_c gives exactly the logit of class c. Positive pixels
    pushed the model towards c, negative ones away from it.
    """
    model = classifier.model
    if not isinstance(model, SoftmaxRegression):
        raise ValueError("Per-pixel evidence w_c * x exists only for softmax regression (a linear model).")
    x = classifier.scaling.apply(as_uint8_images(image)[:1]).reshape(-1)  # [784]
    idx = torch.as_tensor(list(class_indices), dtype=torch.int64)
    with torch.no_grad():
        w = model.linear.weight.detach().index_select(0, idx)  # [k, 784]
        maps = w * x.unsqueeze(0)
    return maps.view(-1, 28, 28).numpy().astype(np.float32)


def class_biases(classifier: Classifier) -> np.ndarray:
    """The bias b_c of each class of a softmax regression model, [10]."""
    model = classifier.model
    if not isinstance(model, SoftmaxRegression):
        raise ValueError("Only softmax regression has one bias per class in a single layer.")
    return model.linear.bias.detach().numpy().copy()


def templates(classifier: Classifier) -> np.ndarray:
    """The rows of W as 28x28 images, [10, 28, 28] float32 (softmax regression only)."""
    model = classifier.model
    if not isinstance(model, SoftmaxRegression):
        raise ValueError("Class templates exist only for softmax regression.")
    return model.templates().numpy().astype(np.float32)


# --- calibration -----------------------------------------------------------------------


@dataclass(frozen=True)
class Reliability:
    """Confidence bins against accuracy: the data of a reliability diagram, and its ECE."""

    edges: np.ndarray  # [B+1], bin b holds confidences in (edges[b], edges[b+1]] (the first also 0)
    counts: np.ndarray  # [B] int64, predictions per bin
    confidence: np.ndarray  # [B] float64, mean confidence in the bin (NaN if empty)
    accuracy: np.ndarray  # [B] float64, fraction right in the bin (NaN if empty)
    ece: float  # sum_b (n_b / N) |accuracy_b - confidence_b|


def reliability(confidence, correct, n_bins: int = 10) -> Reliability:
    """Bin predictions by confidence; a calibrated model is right as often as it is confident."""
    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], conf, side="left")  # (lo, hi] bins
    counts = np.bincount(idx, minlength=n_bins).astype(np.int64)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    right_sum = np.bincount(idx, weights=right.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(counts > 0, conf_sum / np.maximum(counts, 1), np.nan)
        acc = np.where(counts > 0, right_sum / np.maximum(counts, 1), np.nan)
    n = max(int(counts.sum()), 1)
    gaps = np.abs(np.nan_to_num(acc) - np.nan_to_num(mean_conf))
    return Reliability(edges, counts, mean_conf, acc, float((counts / n * gaps).sum()))


def _nll(logits: torch.Tensor, labels: torch.Tensor, inv_t: float) -> float:
    return float(torch.nn.functional.cross_entropy(logits * inv_t, labels))


def fit_temperature(logits, labels, t_min: float = 0.05, t_max: float = 20.0, iters: int = 40) -> float:
    """The temperature T minimising the mean cross-entropy of softmax(logits / T).

    The loss is convex in 1/T (log-sum-exp of a linear function, minus a linear one), so a
    golden-section search over 1/T finds the minimum: deterministic, no optimizer state.
    """
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.int64)
    lo, hi = 1.0 / t_max, 1.0 / t_min
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = _nll(z, y, a), _nll(z, y, b)
    for _ in range(iters):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = _nll(z, y, a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = _nll(z, y, b)
    return 1.0 / ((lo + hi) / 2.0)


@dataclass(frozen=True)
class CrossFit:
    """Temperatures fitted on two halves of one set of images, each half judged with the other's."""

    temperatures: tuple[float, float]  # T fitted on the even-numbered images, on the odd-numbered ones
    per_image_temperature: torch.Tensor  # [N] float64: the T image i is judged with (its other half's)


def cross_fit_temperature(logits, labels) -> CrossFit:
    """Fit T on the even-numbered images and judge the odd ones with it, and the other way round.

    Fashion-MNIST has no held-out validation set: the training images were seen in training (the model
    is surer of them), so a T fitted there is off for new images; a T fitted on the test images and
    judged on the same images flatters itself. Two halves keep every judged image unseen by the fit.
    Even/odd needs no random draw (the test set's order is unrelated to its classes)."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.int64)
    even = torch.arange(len(y)) % 2 == 0
    t_even, t_odd = fit_temperature(z[even], y[even]), fit_temperature(z[~even], y[~even])
    per_image = torch.where(even, torch.tensor(t_odd, dtype=torch.float64), torch.tensor(t_even, dtype=torch.float64))
    return CrossFit((t_even, t_odd), per_image)


def ece_floor(confidence, n_bins: int = 10, draws: int = 50, seed: int = 0) -> float:
    """The mean ECE of a perfectly calibrated model exactly this confident, on as many images: one
    that is right with probability = its confidence. An ECE this small is all that a finite set and
    its bins can measure; a temperature cannot bring the ECE below it. A local generator, fixed seed:
    the same confidences always give the same floor."""
    conf = np.asarray(confidence, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return float(np.mean([reliability(conf, rng.random(len(conf)) < conf, n_bins).ece for _ in range(draws)]))


@dataclass(frozen=True)
class Calibration:
    """How far to trust a classifier's confidence, before and after temperature scaling."""

    before: Reliability  # on the test images, the model as it is (T = 1)
    after: Reliability  # on the test images, each softmax(logits / T) with T fitted on the other half
    temperatures: tuple[float, float]  # fitted on the even-numbered test images, on the odd-numbered ones
    fit_images: int  # test images each temperature was fitted on (half of them)
    test_loss_before: float  # mean cross-entropy on the test images
    test_loss_after: float
    floor: float  # the ECE a perfectly calibrated model as confident as this one would show (ece_floor)

    @property
    def temperature(self) -> float:
        """The two halves' temperatures in one number (their geometric mean)."""
        return math.sqrt(self.temperatures[0] * self.temperatures[1])


def calibration_of(logits, labels, n_bins: int = 10) -> Calibration:
    """Reliability, ECE and loss of test logits [N, 10] as they are and after cross-fitted temperature
    scaling (cross_fit_temperature). Fitting on training images instead made every model's ECE worse:
    see bench/results/calibration.md."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.int64)
    fit = cross_fit_temperature(z, y)

    def judged(t: torch.Tensor) -> tuple[Reliability, float]:  # t: [N, 1], each image's temperature
        conf, pred = torch.softmax(z / t, dim=1).max(dim=1)
        loss = float(torch.nn.functional.cross_entropy(z / t, y))
        return reliability(conf.numpy(), (pred == y).numpy(), n_bins), loss

    (before, loss_before) = judged(torch.ones(len(y), 1, dtype=torch.float64))
    (after, loss_after) = judged(fit.per_image_temperature[:, None])
    floor = ece_floor(torch.softmax(z, dim=1).max(dim=1).values.numpy(), n_bins)
    return Calibration(before, after, fit.temperatures, len(y) // 2, loss_before, loss_after, floor)


def calibrate(
    classifier: Classifier, test_images: torch.Tensor, test_labels: torch.Tensor, n_bins: int = 10
) -> Calibration:
    """calibration_of the classifier's logits on the test images. The training images play no part:
    the model has seen them, is surer of them than of new images, and a T fitted there is off."""
    z = predict_logits(classifier.model, classifier.scaling, as_uint8_images(test_images))
    return calibration_of(z, test_labels, n_bins)


__all__ = [
    "Calibration",
    "Reliability",
    "TestPredictions",
    "CrossFit",
    "calibrate",
    "calibration_of",
    "ece_floor",
    "cross_fit_temperature",
    "fit_temperature",
    "reliability",
    "class_biases",
    "evidence_maps",
    "per_class_accuracy",
    "predict_test_set",
    "templates",
]
