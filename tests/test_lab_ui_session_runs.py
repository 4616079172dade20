"""lab_ui.session_runs: the notebook a run's download button hands out (the page itself: test_app_train.py)."""

from __future__ import annotations

import nbformat

from fmnist_lib import TrainingRun, default_config
from lab_ui import session_runs


def test_the_notebook_download_is_the_runs_notebook(tiny_data):
    run = TrainingRun(default_config("cnn", epochs=3, batch_size=32))
    run.fit(tiny_data, epochs=1)  # stopped after 1 of 3, as a run the learner stopped
    nb = nbformat.reads(session_runs._notebook(run).decode("utf-8"), as_version=4)
    nbformat.validate(nb)
    meta = nb.metadata.fmnist_lab
    assert meta.config == run.config.to_dict() and meta.epochs == 1
    assert meta.scaling == run.scaling.to_dict() and meta.lab_test_accuracy == run.test_acc
