"""lab_ui/resources.py without a script run: a per-server value is a Shared, made once, a failure not kept."""

from __future__ import annotations

import pytest

from fmnist_lib import TrainingRun, default_config
from lab_ui import resources


def test_a_shared_value_is_made_once_and_a_failure_is_tried_again():
    calls = []

    def make() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the disk hiccuped")
        return "made"

    shared = resources.Shared(make)
    with pytest.raises(OSError):
        shared.get()
    assert not shared.ready and shared.peek() is None
    assert shared.get() == shared.get() == "made" and len(calls) == 2


def test_the_default_calibration_is_measured_once_per_server(monkeypatch, tiny_data):
    run = TrainingRun(default_config("softmax", epochs=1, batch_size=16))
    run.fit(tiny_data)
    measured = []

    def calibrate(clf, images, labels):
        measured.append(len(labels))
        return object()

    monkeypatch.setattr(resources, "calibrate", calibrate)
    monkeypatch.setattr(resources, "DATA", resources.Shared(lambda: tiny_data))
    monkeypatch.setattr(resources, "DEFAULT_RUN", resources.Shared(lambda: run))
    monkeypatch.setattr(resources, "DEFAULT_CALIBRATION", resources.Shared(resources._make_default_calibration))
    first = resources.default_calibration()
    assert resources.default_calibration() is first
    assert measured == [len(tiny_data.test_labels)]  # on the test set, once
