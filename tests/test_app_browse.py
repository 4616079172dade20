"""AppTest: the Browse page — a random batch, mistakes, the confusion matrix and its cells."""

from __future__ import annotations

import pytest

from lab_ui import state
from tests.support.apptest import assert_ok, open_page, set_widget, texts

pytestmark = pytest.mark.integration

CELL_IMAGES = 16  # the page shows up to 16 images of the chosen confusion-matrix cell


def cards(at) -> list[str]:
    """The verdict line of each image card (right/wrong, predicted class, confidence)."""
    return [t for t in texts(at.markdown) if "right]" in t or "wrong**]" in t]


@pytest.fixture(scope="module")
def at():
    return open_page("app_pages/browse.py")


def test_browse_shows_a_batch_with_predictions(at):
    assert any("Active model:" in t for t in texts(at.info))
    shown = cards(at)
    assert len(shown) >= 8 + 1  # the batch of 8, then the chosen cell's images
    assert all("%" in t for t in shown), "each card shows the confidence as a percentage"
    assert any(t.startswith("true: ") for t in texts(at.caption))
    assert len(at.image) >= 8
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"].endswith("%")


def test_new_batch_and_batch_size(at):
    seed = at.session_state[state.BROWSE_SEED]
    at.button(key=state.NEW_BATCH_BUTTON).click().run()
    assert_ok(at)
    assert at.session_state[state.BROWSE_SEED] != seed
    set_widget(at, "slider", state.BATCH_SIZE, 32)
    n_cell = min(CELL_IMAGES, len(cards(at)) - 32)
    assert len(cards(at)) == 32 + n_cell


@pytest.mark.parametrize("view", ["mistakes", "confident"])
def test_mistake_views_show_only_mistakes(at, view):
    set_widget(at, "slider", state.BATCH_SIZE, 8)
    set_widget(at, "radio", state.VIEW, view)
    batch = cards(at)[:8]
    assert len(batch) == 8 and all("wrong" in t for t in batch)
    set_widget(at, "radio", state.VIEW, "all")


def test_confusion_matrix_and_a_chosen_cell(at):
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 2  # confusion matrix and per-class accuracy
    set_widget(at, "selectbox", state.CELL_TRUE, 6)  # Shirt
    set_widget(at, "selectbox", state.CELL_PRED, 0)  # predicted T-shirt/top
    line = next(t for t in texts(at.markdown) if "test images of" in t)
    assert "**Shirt** predicted as **T-shirt/top**" in line
    assert all("wrong" in t for t in cards(at)[-CELL_IMAGES:])


def test_browse_uses_the_model_trained_on_the_train_page():
    at = open_page("app_pages/train.py")
    set_widget(at, "slider", state.EPOCHS, 1)
    at.button(key=state.TRAIN_BUTTON).click().run()
    while at.session_state[state.JOB] is not None:
        at.run()
    at.switch_page("app_pages/browse.py").run()
    assert_ok(at)
    assert any("Active model:** #1" in t for t in texts(at.info))


def test_calibration_reliability_diagram_and_ece(at):
    metrics = {m.label: m.value for m in at.metric}
    ece = float(metrics["Expected calibration error"].rstrip("%"))
    assert 0 < ece < 10, "the tutorial's softmax is calibrated to within a few points"
    assert float(metrics["Fitted temperature T"]) > 0
    assert "ECE after dividing the logits by T" in metrics
    titles = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert sum("Reliability on the 10,000 test images" in s for s in titles) == 1
    assert sum("after temperature scaling" in s for s in titles) == 1
    assert any("confidence" in t and "were right" in t for t in texts(at.markdown)), "the sentence on confidence"
    assert any("Over-confidence" in t for t in texts(at.caption))
