"""SGD, SGD with momentum, and Adam: torch.optim's update rules, without torch.optim.

Why not torch.optim? Its first `step()` imports torch._dynamo (the compiler stack),
which costs about 160 MB of resident memory and a second of start-up in every
process: a sixth of the app's 1 GB memory budget, for three update rules of a
few lines each. These classes follow torch.optim's formulas exactly (tests
compare them step by step with torch.optim.SGD and torch.optim.Adam) and
offer the part of its interface the project uses: `param_groups[i]["lr"]`,
`step()`, `zero_grad()`, `state_dict()` and `load_state_dict()`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from .config import TrainConfig


class Optimizer:
    kind = ""

    def __init__(self, params: Iterable[torch.nn.Parameter], **defaults) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.param_groups = [{"params": self.params, **defaults}]
        self.state: dict[str, list] = {}
        self.steps = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def state_dict(self) -> dict:
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {"kind": self.kind, "group": group, "steps": self.steps, "state": self.state}

    def load_state_dict(self, sd: dict) -> None:
        if sd.get("kind") != self.kind:
            raise ValueError(f"optimizer state is for {sd.get('kind')!r}, not {self.kind!r}")
        state = sd.get("state", {})
        for buffers in state.values():
            if len(buffers) != len(self.params):
                raise ValueError("optimizer state does not match the model's parameters")
            for b, p in zip(buffers, self.params, strict=True):
                if b is not None and b.shape != p.shape:
                    raise ValueError("optimizer state does not match the model's parameters")
        self.param_groups[0].update(sd.get("group", {}))
        self.steps = int(sd.get("steps", 0))
        self.state = {k: [None if b is None else b.clone() for b in v] for k, v in state.items()}


class SGD(Optimizer):
    """p -= lr * d, where d = g + wd * p, or with momentum mu: buf = mu * buf + d (buf = d at first), d = buf."""

    kind = "sgd"

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        if momentum:
            self.state = {"momentum_buffer": [None] * len(self.params)}

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        buffers = self.state.get("momentum_buffer")
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
            if mu:
                if buffers[i] is None:
                    buffers[i] = d.clone()
                else:
                    buffers[i].mul_(mu).add_(d)
                d = buffers[i]
            p.add_(d, alpha=-lr)
        self.steps += 1


class Adam(Optimizer):
    """Adam with torch.optim.Adam's defaults (betas 0.9, 0.999; eps 1e-8; L2 weight decay added to g)."""

    kind = "adam"

    def __init__(self, params, lr: float, weight_decay: float = 0.0, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas), eps=eps)
        self.state = {
            "exp_avg": [torch.zeros_like(p) for p in self.params],
            "exp_avg_sq": [torch.zeros_like(p) for p in self.params],
        }

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        self.steps += 1
        t = self.steps
        bias_correction1 = 1 - beta1**t
        bias_correction2_sqrt = math.sqrt(1 - beta2**t)
        for p, m, v in zip(self.params, self.state["exp_avg"], self.state["exp_avg_sq"], strict=True):
            if p.grad is None:
                continue
            g = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
            m.lerp_(g, 1 - beta1)  # m = beta1 * m + (1 - beta1) * g
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v = beta2 * v + (1 - beta2) * g^2
            denom = (v.sqrt() / bias_correction2_sqrt).add_(eps)
            p.addcdiv_(m, denom, value=-lr / bias_correction1)


def make_optimizer(model: nn.Module, config: TrainConfig) -> Optimizer:
    """The optimizer the config names, at config.lr (the schedule sets each step's rate: loop.train_epoch)."""
    params = model.parameters()
    if config.optimizer == "sgd":
        return SGD(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "momentum":
        return SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    return Adam(params, lr=config.lr, weight_decay=config.weight_decay)
