"""fmnist_lib.models: the tutorial's softmax model exactly, its closed-form gradient, the CNN's shapes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fmnist_lib.models import SmallCNN, SoftmaxRegression, build_model


def test_softmax_is_the_tutorials_flatten_plus_linear():
    torch.manual_seed(0)
    m = build_model("softmax")
    assert isinstance(m, SoftmaxRegression)
    assert isinstance(m.flatten, nn.Flatten)
    assert isinstance(m.linear, nn.Linear)
    assert (m.linear.in_features, m.linear.out_features) == (784, 10)
    assert sum(p.numel() for p in m.parameters()) == 7850
    assert torch.count_nonzero(m.linear.bias) == 0
    std = m.linear.weight.std().item()
    assert 0.009 < std < 0.011 and abs(m.linear.weight.mean().item()) < 0.001


def test_softmax_forward_equals_nn_linear():
    torch.manual_seed(1)
    m = SoftmaxRegression()
    x = torch.rand(5, 1, 28, 28)
    expected = m.linear(x.view(5, -1))
    assert torch.allclose(m(x), expected, atol=1e-6)
    assert m(x).shape == (5, 10)


def test_closed_form_gradient_equals_autograd():
    torch.manual_seed(2)
    m = SoftmaxRegression()
    nn.init.normal_(m.linear.weight, std=0.5)  # non-trivial logits
    x = torch.rand(33, 1, 28, 28)
    y = torch.randint(0, 10, (33,))
    loss = F.cross_entropy(m(x), y)
    loss.backward()
    gw, gb = m.linear.weight.grad.clone(), m.linear.bias.grad.clone()
    m.zero_grad()
    losses, logits = m.cross_entropy_gradients(x, y)
    assert torch.allclose(losses.mean(), loss.detach(), atol=1e-5)
    assert torch.allclose(logits, m(x).detach(), atol=1e-5)
    assert torch.allclose(m.linear.weight.grad, gw, atol=1e-6)
    assert torch.allclose(m.linear.bias.grad, gb, atol=1e-6)


def test_templates_are_the_rows_of_w():
    m = SoftmaxRegression()
    t = m.templates()
    assert t.shape == (10, 28, 28)
    assert torch.equal(t[3].flatten(), m.linear.weight[3].detach())


def test_cnn_returns_logits_for_a_batch():
    m = build_model("cnn")
    assert isinstance(m, SmallCNN)
    convs = [layer for layer in m.modules() if isinstance(layer, nn.Conv2d)]
    assert len(convs) == 2
    out = m(torch.rand(4, 1, 28, 28))
    assert out.shape == (4, 10)


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="softmax, cnn"):
        build_model("resnet")


@pytest.mark.parametrize("kind", ["softmax", "cnn"])
def test_weights_come_from_the_generator_alone_and_keep_the_seeds_old_values(kind):
    """build_model draws from its generator only: global reseeding changes nothing, and a seed gives
    the weights `torch.manual_seed(seed)` gave before (the tutorial's default keeps its 82.32%)."""
    g_state = torch.random.get_rng_state()
    first = build_model(kind, torch.Generator().manual_seed(4))
    assert torch.equal(torch.random.get_rng_state(), g_state), "the global generator is not touched"
    torch.manual_seed(123)
    again = build_model(kind, torch.Generator().manual_seed(4))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)  # the old way: the global generator, seeded
        old = SmallCNN() if kind == "cnn" else SoftmaxRegression()
        if kind == "softmax":
            torch.nn.init.normal_(old.linear.weight, 0.0, 0.01)
            torch.nn.init.zeros_(old.linear.bias)
    for a, b, c in zip(
        first.state_dict().values(), again.state_dict().values(), old.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_building_a_model_does_not_import_sympy():
    """Module.to_empty on meta tensors ran torch's Python meta kernel, whose first call imports sympy: ~0.5
    CPU-s in every fresh process, a training worker's first job included (issue 25). A fresh process,
    because this one may have imported it already."""
    code = (
        "import sys\n"
        "from fmnist_lib.models import build_model\n"
        "build_model('softmax'); build_model('cnn')\n"
        "print('sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kind", ["softmax", "cnn"])
def test_a_built_model_lives_on_the_cpu_with_its_layout(kind):
    m = build_model(kind)
    for t in [*m.parameters(), *m.buffers()]:
        assert t.device.type == "cpu"
    for p in m.parameters():
        assert isinstance(p, nn.Parameter) and p.requires_grad
    if kind == "cnn":
        conv = next(x for x in m.modules() if isinstance(x, nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
