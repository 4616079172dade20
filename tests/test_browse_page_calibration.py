"""lab_ui/browse_page/calibration.py without a script run: the reliability diagram's spec, the temperature verdict."""

from __future__ import annotations

import torch

from fmnist_lib.analysis import calibration_of
from lab_ui.browse_page import calibration


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


def _layers(spec: dict) -> list[dict]:
    out = []
    for layer in spec.get("layer", [spec]):
        out += _layers(layer) if "layer" in layer else [layer]
    return out


def test_the_reliability_diagram_ends_at_one_and_its_counts_are_not_under_the_ticks():
    cal = _calibrated()
    spec = calibration.reliability_chart(cal.before, "t").to_dict()
    layers = _layers(spec)
    domains = [layer["encoding"]["y"].get("scale", {}).get("domain") for layer in layers if "y" in layer["encoding"]]
    assert [0, 1] in domains and not any(d and d[1] > 1 for d in domains)  # not 1.08: no impossible accuracy
    ticks = [layer for layer in layers if layer["mark"]["type"] == "tick"]
    counts = [layer for layer in layers if layer["mark"]["type"] == "text"]
    assert ticks and counts
    # The ticks sit at the mean confidence (a calibrated bar's top); the counts at the foot of the bars.
    assert all(layer["encoding"]["y"].get("datum") == 0 for layer in counts)
    assert all(layer["encoding"]["y"]["field"] == "confidence" for layer in ticks)
