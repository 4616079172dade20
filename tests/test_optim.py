"""fmnist_lib.optim: step by step the same as torch.optim, and torch._dynamo is never loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fmnist_lib.optim import SGD, Adam


def _params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(4, 3, generator=g)), torch.nn.Parameter(torch.randn(3, generator=g))]


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda p: SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
        (lambda p: SGD(p, lr=0.1, weight_decay=0.01), lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01)),
        (lambda p: SGD(p, lr=0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
        (
            lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
            lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
        ),
        (lambda p: Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2)),
        (lambda p: Adam(p, lr=1e-2, weight_decay=0.1), lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.1)),
    ],
    ids=["sgd", "sgd-wd", "momentum", "momentum-wd", "adam", "adam-wd"],
)
def test_same_updates_as_torch_optim(ours, theirs):
    a, b = _params(), _params()
    opt_a, opt_b = ours(a), theirs(b)
    g = torch.Generator().manual_seed(1)
    for step in range(8):
        for pa, pb in zip(a, b, strict=True):
            grad = torch.randn(pa.shape, generator=g)
            pa.grad, pb.grad = grad.clone(), grad.clone()
        opt_a.step()
        opt_b.step()
        for pa, pb in zip(a, b, strict=True):
            assert torch.allclose(pa, pb, atol=1e-6, rtol=1e-5), f"step {step}"


def test_learning_rate_is_read_from_param_groups_each_step():
    (p,) = _params()[:1]
    opt = SGD([p], lr=1.0)
    before = p.detach().clone()
    p.grad = torch.ones_like(p)
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    assert torch.allclose(p.detach(), before - 0.5)


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.01)])
def test_state_dict_round_trip_continues_identically(make):
    a = _params()
    opt = make(a)
    for _ in range(3):
        for p in a:
            p.grad = torch.ones_like(p)
        opt.step()
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    opt_b = make(b)
    opt_b.load_state_dict(opt.state_dict())
    for p, q in zip(a, b, strict=True):
        p.grad, q.grad = torch.full_like(p, 0.3), torch.full_like(q, 0.3)
    opt.step()
    opt_b.step()
    for p, q in zip(a, b, strict=True):
        assert torch.equal(p, q)


def test_state_dict_of_another_kind_or_shape_is_refused():
    sgd = SGD(_params(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="for 'sgd'"):
        Adam(_params(), lr=0.1).load_state_dict(sgd.state_dict())
    adam = Adam(_params(), lr=0.1)
    with pytest.raises(ValueError, match="does not match"):
        Adam([torch.nn.Parameter(torch.zeros(2))], lr=0.1).load_state_dict(adam.state_dict())


def test_zero_grad():
    ps = _params()
    opt = SGD(ps, lr=0.1)
    for p in ps:
        p.grad = torch.ones_like(p)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_training_never_loads_torch_dynamo():
    """torch.optim and torchvision would load torch._dynamo (torch's compiler stack); the app must not."""
    code = (
        "import sys, torch\n"
        "from fmnist_lib import TrainingRun, default_config\n"
        "from tests.support.data import make_tiny_data\n"
        "d = make_tiny_data()\n"
        "for kind, opt in (('softmax', 'sgd'), ('softmax', 'momentum'), ('cnn', 'adam')):\n"
        "    TrainingRun(default_config(kind, optimizer=opt, epochs=1, batch_size=16)).fit(d)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('torch._dynamo', 'torchvision'))))\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
