"""fmnist_lib.scaling: the one place pixels become model inputs."""

from __future__ import annotations

import pytest
import torch

from fmnist_lib.scaling import STANDARDIZED, UNIT, InputScaling


def test_unit_scaling_is_the_tutorials_to_tensor():
    px = torch.tensor([[0, 51, 255]], dtype=torch.uint8).expand(28, 3).contiguous()
    px = torch.nn.functional.pad(px, (0, 25)).unsqueeze(0)  # [1, 28, 28]
    x = UNIT.apply(px)
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert x[0, 0, 0, :3].tolist() == pytest.approx([0.0, 0.2, 1.0])


def test_standardized_scaling():
    px = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    x = STANDARDIZED.apply(px)
    assert x.shape == (2, 1, 28, 28)
    assert x[0, 0, 0, 0].item() == pytest.approx((1.0 - 0.2860) / 0.3530, rel=1e-5)


def test_float_input_is_refused_so_nothing_is_scaled_twice():
    with pytest.raises(TypeError, match="uint8"):
        UNIT.apply(torch.rand(1, 28, 28))


def test_round_trip_and_validation():
    s = InputScaling(0.25, 0.5)
    assert InputScaling.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError):
        InputScaling(0.0, 0.0)


def test_flat_rows_are_scaled_like_images():
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    for scaling in (UNIT, STANDARDIZED):
        flat = scaling.apply(images.view(3, 784))
        assert flat.shape == (3, 784)
        torch.testing.assert_close(flat, scaling.apply(images).view(3, 784), rtol=0, atol=0)
