"""Not a garment: how far a 28×28 input lies from Fashion-MNIST, and where the lab starts saying so.

A classifier always answers with one of its 10 classes, even for a test pattern or a blank page. Two
measured scores say when that answer is a guess about something the model never saw (both: higher is
farther; bench/not_garment.py measured them and the other candidates, bench/results/not_garment.md):

* `energy` of the model's logits z, −logsumexp(z): the model finds no class's evidence strong (a blank
  page, a faint smudge). It belongs to the model, so each model gets its own threshold.
* `pixel_distance` of the input to the training images: a probabilistic PCA (Mahalanobis distance within
  the top components plus the residual off them), ≈ 1 for a typical training image. It catches what the
  model is confident about for the wrong reason (noise, a checkerboard, text), which no logit can.

An input is flagged when either score is above its threshold: that score's quantile (`ENERGY_QUANTILE`,
`DISTANCE_QUANTILE`) on reference training images (`reference_images`), so each threshold follows from the
model and the data alone, deterministically. A garment is the same garment in the mirror (the Upload page's mirror step), so each
score is the lower of an image's two views.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .inference import Classifier, as_uint8_images, mirror_images

# Every REFERENCE_EVERY-th training image (6,000 of 60,000) fits the pixel model and sets the thresholds:
# enough for a stable 99th percentile, and ~1 s of CNN forward passes per model at one thread.
REFERENCE_EVERY = 10
# Principal components of the pixel model: the training images' shapes; what lies off them is the residual.
COMPONENTS = 50
# Each score's threshold is its quantile on the reference images, chosen in bench/not_garment.py: of the
# sweep's rows that flag at most 5% of Fashion-MNIST's test images and at most 5% of the garment photos for
# both default models, the one that flags the most non-garments. The distance's is higher: the pipeline
# leaves a photo's garment a little farther from Fashion-MNIST's pixels than its own images are.
ENERGY_QUANTILE = 0.995
DISTANCE_QUANTILE = 0.998


def reference_images(train_images: torch.Tensor, every: int = REFERENCE_EVERY) -> torch.Tensor:
    """The fixed subset of training images the statistics are taken on: uint8 [N, 28, 28] -> [N // every, 28, 28]."""
    return as_uint8_images(train_images)[::every]


def _flat(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float64 [N, 784] in [0, 1]."""
    return as_uint8_images(images).reshape(-1, 784).to(torch.float64) / 255.0


@dataclass(frozen=True)
class PixelModel:
    """The training images' pixels as a probabilistic PCA: mean, top components, their variances, the residual's."""

    mean: torch.Tensor  # [784] float64
    components: torch.Tensor  # [k, 784] float64, orthonormal rows
    variances: torch.Tensor  # [k] float64, the variance along each component
    residual_variance: float  # the mean variance per pixel off the components


def fit_pixels(images: torch.Tensor, components: int = COMPONENTS) -> PixelModel:
    """A PixelModel of uint8 images [N, 28, 28] (N > components); eigh of the covariance, deterministic."""
    x = _flat(images)  # [N, 784]
    mean = x.mean(0)
    c = x - mean
    cov = c.T @ c / max(len(x) - 1, 1)  # [784, 784]
    values, vectors = torch.linalg.eigh(cov)  # ascending
    k = min(components, 783)
    top = vectors[:, -k:].flip(1).T.contiguous()  # [k, 784], largest first
    variances = values[-k:].flip(0).clamp(min=1e-8)
    residual = float(values[:-k].clamp(min=0).sum()) / (784 - k)
    return PixelModel(mean, top, variances, max(residual, 1e-8))


def pixel_distance(pm: PixelModel, images: torch.Tensor) -> torch.Tensor:
    """How far each image lies from the training images: float64 [N], ≈ 1 for a typical one.

    (Σ_i p_i² / λ_i + r² / σ²) / 784, where p are its coordinates on the components (variances λ) and
    r² its squared distance off them (variance σ² per pixel): the per-pixel Mahalanobis distance of a
    probabilistic PCA."""
    c = _flat(images) - pm.mean  # [N, 784]
    p = c @ pm.components.T  # [N, k]
    inside = (p.square() / pm.variances).sum(1)
    off = (c.square().sum(1) - p.square().sum(1)).clamp(min=0) / pm.residual_variance
    return (inside + off) / c.shape[1]


def pixel_residual(pm: PixelModel, images: torch.Tensor) -> torch.Tensor:
    """The root-mean-square pixel (0-1) an image differs from its reconstruction by the components: [N]."""
    c = _flat(images) - pm.mean
    p = c @ pm.components.T
    return ((c.square().sum(1) - p.square().sum(1)).clamp(min=0) / c.shape[1]).sqrt()


def energy(logits: torch.Tensor) -> torch.Tensor:
    """−logsumexp(z) of logits [N, 10] -> [N]: high when no class's logit is large."""
    return -torch.logsumexp(logits.to(torch.float64), dim=1)


def max_prob_score(logits: torch.Tensor) -> torch.Tensor:
    """1 − the largest softmax probability of logits [N, 10] -> [N]: high when the model is unsure."""
    return 1.0 - torch.softmax(logits.to(torch.float64), dim=1).max(1).values


def both_views(score, images: torch.Tensor) -> torch.Tensor:
    """score(images) [N] taken as the lower of each image's own view and its mirror image's."""
    images = as_uint8_images(images)
    return torch.minimum(score(images), score(mirror_images(images)))


def model_energy(clf: Classifier, images: torch.Tensor) -> torch.Tensor:
    """energy of the classifier's logits, the lower of each image's two views: [N]."""
    return both_views(lambda x: energy(clf.logits(x)), images)


def view_distance(pm: PixelModel, images: torch.Tensor) -> torch.Tensor:
    """pixel_distance, the lower of each image's two views: [N]."""
    return both_views(lambda x: pixel_distance(pm, x), images)


@dataclass(frozen=True)
class NoveltyCheck:
    """What flags an input for one model: the pixel model and the two thresholds (quantiles of the references)."""

    pixels: PixelModel
    energy_threshold: float
    distance_threshold: float
    energy_quantile: float
    distance_quantile: float


def threshold(scores: torch.Tensor, quantile: float) -> float:
    """The score that `quantile` of `scores` [N] lie at or below (an actual score: interpolation "higher")."""
    return float(torch.quantile(scores.to(torch.float64), quantile, interpolation="higher"))


def fit_check(
    clf: Classifier,
    references: torch.Tensor,
    pixels: PixelModel | None = None,
    energy_quantile: float = ENERGY_QUANTILE,
    distance_quantile: float = DISTANCE_QUANTILE,
) -> NoveltyCheck:
    """A NoveltyCheck for clf from reference training images uint8 [N, 28, 28] (`reference_images`).

    pixels: a PixelModel already fitted on the same references (it is the model's data, not the model's,
    so every model of a server can share one)."""
    pixels = pixels if pixels is not None else fit_pixels(references)
    return NoveltyCheck(
        pixels,
        energy_threshold=threshold(model_energy(clf, references), energy_quantile),
        distance_threshold=threshold(view_distance(pixels, references), distance_quantile),
        energy_quantile=energy_quantile,
        distance_quantile=distance_quantile,
    )


@dataclass(frozen=True)
class Novelty:
    """One image's scores against its model's thresholds."""

    energy: float
    energy_threshold: float
    distance: float
    distance_threshold: float
    energy_quantile: float  # the share of training images at or below the energy threshold
    distance_quantile: float  # ... at or below the distance threshold

    @property
    def weak_evidence(self) -> bool:
        """No class's logit is as large as for nearly every training image."""
        return self.energy > self.energy_threshold

    @property
    def far_pixels(self) -> bool:
        """Its pixels lie farther from the training images than nearly every training image's."""
        return self.distance > self.distance_threshold

    @property
    def flagged(self) -> bool:
        return self.weak_evidence or self.far_pixels


def _scores(check: NoveltyCheck, clf: Classifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(energy [N], pixel distance [N]) of uint8 images [28, 28] or [N, 28, 28], each the lower of two views."""
    images = as_uint8_images(images)
    return model_energy(clf, images), view_distance(check.pixels, images)


def judge(check: NoveltyCheck, clf: Classifier, images: torch.Tensor) -> list[Novelty]:
    """Each image's Novelty (uint8 [28, 28] or [N, 28, 28]) against the check fitted for clf."""
    e, d = _scores(check, clf, images)
    return [
        Novelty(
            float(ei),
            check.energy_threshold,
            float(di),
            check.distance_threshold,
            check.energy_quantile,
            check.distance_quantile,
        )
        for ei, di in zip(e, d, strict=True)
    ]


def flags(check: NoveltyCheck, clf: Classifier, images: torch.Tensor) -> torch.Tensor:
    """bool [N]: which images the check flags (the bench's fast path of `judge`)."""
    e, d = _scores(check, clf, images)
    return (e > check.energy_threshold) | (d > check.distance_threshold)
