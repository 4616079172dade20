"""lab_ui/layout.py without a script run: the sidebar's line on the session's job."""

from __future__ import annotations

from lab_ui import layout, state


def test_the_sidebar_says_pausing_while_the_job_pauses_not_training():
    paused = state.TrainJob(1, 10, pause_reason="you left the Train page")
    text = layout.job_caption(paused)
    assert "pausing" in text and "you left the Train page" in text and "is training" not in text


def test_the_sidebar_says_stopping_training_or_nothing():
    assert "stopping" in layout.job_caption(state.TrainJob(1, 10, stop_requested=True))
    assert "is training" in layout.job_caption(state.TrainJob(1, 10))
    assert layout.job_caption(None) == ""
