"""Analyses of a trained classifier for the dashboard: test-set predictions,
per-class accuracy, mistakes, and the per-pixel evidence of softmax regression.

Everything returns numpy arrays (small ones), so the UI needs no torch.
"""

from __future__ import annotations

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
    """Predicted class and its probability for every image (uint8 [N,28,28]) in one pass.

    In batches of 500: the CNN's activations for 2,000 images at once would take ~100 MB more
    of the server's memory at its peak, for no gain in speed.
    """
    logits = predict_logits(classifier.model, classifier.scaling, as_uint8_images(images), batch_size=500)
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


__all__ = [
    "TestPredictions",
    "class_biases",
    "evidence_maps",
    "per_class_accuracy",
    "predict_test_set",
    "templates",
]
