"""lab_ui/calibration.py without a script run: the reliability diagram's spec, the temperature verdict."""

from __future__ import annotations

import torch

from fmnist_lib.analysis import calibration_of
from lab_ui import calibration


def _calibrated(n: int = 10_000, sharpen: float = 1.0):
    """Labels drawn from softmax(logits) (calibrated at T = 1), the logits then multiplied by `sharpen`."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, 10, generator=g, dtype=torch.float64) * 3
    labels = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=g).squeeze(1)
    return calibration_of(logits * sharpen, labels)


def test_the_page_says_plainly_when_temperature_scaling_does_not_help_and_why_with_the_numbers():
    cal = _calibrated()
    text = calibration.temperature_verdict(cal)
    assert "does not help" in text
    assert f"{cal.before.ece:.2%}" in text and f"{cal.after.ece:.2%}" in text
    assert f"{cal.floor:.2%}" in text and "already calibrated" in text  # the why: within the sampling floor
    assert f"{cal.temperatures[0]:.2f}" in text


def test_the_page_says_when_it_helps():
    cal = _calibrated(sharpen=2.0)  # over-confident
    text = calibration.temperature_verdict(cal)
    assert "helps here" in text and "does not" not in text
