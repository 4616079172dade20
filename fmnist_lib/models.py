"""The two models. Both take [N, 1, 28, 28] float inputs and return [N, 10] logits.

Softmax is never applied here: the loss (cross-entropy on logits, in loop.py)
does it internally and stably, and `inference.predict` applies it when
probabilities are shown.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NUM_CLASSES = 10
NUM_PIXELS = 28 * 28
MODEL_KINDS = ("softmax", "cnn")


class SoftmaxRegression(nn.Module):
    """The tutorial's model: Flatten + Linear(784 -> 10), weights N(0, 0.01), bias 0 (build_model draws them).

    logits = x_flat @ W.T + b, W: [10, 784], b: [10]. Row c of W is the template
    for class c: a 28x28 image of which pixels count for (and against) it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(NUM_PIXELS, NUM_CLASSES)

    def init_parameters(self, generator: torch.Generator) -> None:
        # torch's default Linear init first, then the tutorial's: the same draws, in the same order,
        # as `torch.manual_seed(seed); SoftmaxRegression()` made before, so a seed keeps its weights.
        init_parameters(self.linear, generator)
        nn.init.normal_(self.linear.weight, mean=0.0, std=0.01, generator=generator)
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
    Weights (build_model) and activations are kept channels-last (NHWC): oneDNN's convolutions on so few
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)  # [N, 1, 28, 28], NHWC in memory
        return self.classifier(self.features(x))


def init_parameters(module: nn.Module, generator: torch.Generator) -> None:
    """torch's default initialisation of every layer, drawn from `generator` (never the global RNG).

    Linear and Conv2d: weight kaiming-uniform(a=sqrt 5), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as their
    reset_parameters(); other layers (BatchNorm) have a deterministic reset. Layers in construction order.
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif m is not module and hasattr(m, "reset_parameters"):
            m.reset_parameters()


def _allocate_on_cpu(model: nn.Module) -> None:
    """Give a model built on the meta device uninitialised CPU tensors of the same shapes and strides.

    What Module.to_empty does, but through a factory (torch.empty_strided) instead of empty_like on the
    meta tensors: that runs torch's Python meta kernel, whose first call imports sympy, ~0.5 CPU-s and
    tens of MB in every fresh process (a training worker's first job, the CLI, the server; issue 25).
    """
    model._apply(lambda t: torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device="cpu"))


def build_model(kind: str, generator: torch.Generator | None = None) -> nn.Module:
    """A model of the given kind, its weights drawn from `generator` (default: one seeded with 0).

    Built on the meta device first, so building it draws nothing from torch's global RNG: the same
    generator state gives the same weights whatever else runs in the process.
    """
    classes = {"softmax": SoftmaxRegression, "cnn": SmallCNN}
    if kind not in classes:
        raise ValueError(f"Unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}.")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    with torch.device("meta"):
        model = classes[kind]()
    _allocate_on_cpu(model)
    if isinstance(model, SoftmaxRegression):
        model.init_parameters(generator)
    else:
        init_parameters(model, generator)  # drawn in NCHW order, as SmallCNN() drew them before
        model.to(memory_format=torch.channels_last)  # then laid out NHWC: the same values
    return model
