"""The two models. Both take [N, 1, 28, 28] float inputs and return [N, 10] logits.

Softmax is never applied here: the loss (cross-entropy on logits, in loop.py)
does it internally and stably, and `inference.predict` applies it when
probabilities are shown.
"""

from __future__ import annotations

import torch
from torch import nn

NUM_CLASSES = 10
NUM_PIXELS = 28 * 28
MODEL_KINDS = ("softmax", "cnn")


class SoftmaxRegression(nn.Module):
    """The tutorial's model: Flatten + Linear(784 -> 10), weights N(0, 0.01), bias 0.

    logits = x_flat @ W.T + b, W: [10, 784], b: [10]. Row c of W is the template
    for class c: a 28x28 image of which pixels count for (and against) it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(NUM_PIXELS, NUM_CLASSES)
        nn.init.normal_(self.linear.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)  # [N, 784]
        # Same as self.linear(x), computed as (W @ x.T).T: for this skinny shape
        # (10 outputs) that product is several times faster on the CPU.
        return torch.addmm(self.linear.bias.unsqueeze(1), self.linear.weight, x.t()).t()

    def cross_entropy_gradients(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy loss of a batch and its gradients, in closed form.

        For softmax regression dL/dlogits = (softmax(logits) - onehot(y)) / N, so
        dL/dW = that.T @ x and dL/db = its column sums. Computing this directly is
        the same gradient autograd gives (tests check it) with a third of the
        per-step overhead, which dominates for a model this small.
        Writes .grad of the weight and bias; returns (per-example losses [N], logits [N, 10]).
        """
        n = x.shape[0]
        x = x.reshape(n, NUM_PIXELS)  # [N, 784]
        w, b = self.linear.weight, self.linear.bias
        with torch.no_grad():
            logits_t = torch.addmm(b.unsqueeze(1), w, x.t())  # [10, N]
            logp = torch.log_softmax(logits_t, dim=0)  # [10, N]
            target = y.unsqueeze(0)  # [1, N]
            losses = logp.gather(0, target).neg_().squeeze(0)  # [N]
            grad = logp.exp_()  # softmax probabilities, [10, N] (logp is not needed any more)
            grad.scatter_add_(0, target, torch.full((1, n), -1.0)).mul_(1.0 / n)  # (p - onehot) / N
            w.grad = grad @ x  # [10, 784]
            b.grad = grad.sum(dim=1)  # [10]
        return losses, logits_t.t().contiguous()  # [N, 10]; contiguous so argmax(dim=1) is fast

    def templates(self) -> torch.Tensor:
        """The rows of W as images: [10, 28, 28]."""
        return self.linear.weight.detach().view(NUM_CLASSES, 28, 28).clone()


class SmallCNN(nn.Module):
    """Two conv blocks and a small classifier head, as the tutorial's closing note suggests.

    [N,1,28,28] -conv3x3,16-> [N,16,28,28] -pool-> [N,16,14,14]
                -conv3x3,32-> [N,32,14,14] -pool-> [N,32,7,7] -> 1568 -> 128 -> 10.
    BatchNorm lets Adam's default learning rate train it fast and stably.
    Weights and activations are kept channels-last (NHWC): oneDNN's convolutions on so few
    channels run about 1.6x faster that way on the CPU (bench/results/cnn_sweep.md). The
    results are the same model: a checkpoint stores values, not the memory layout.
    """

    def __init__(self, channels: tuple[int, int] = (16, 32), hidden: int = 128) -> None:
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=3, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, hidden),
            nn.ReLU(),
            nn.Linear(hidden, NUM_CLASSES),
        )
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)  # [N, 1, 28, 28], NHWC in memory
        return self.classifier(self.features(x))


def build_model(kind: str) -> nn.Module:
    """A freshly initialised model of the given kind (seed the global RNG first for repeatability)."""
    if kind == "softmax":
        return SoftmaxRegression()
    if kind == "cnn":
        return SmallCNN()
    raise ValueError(f"Unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}.")
