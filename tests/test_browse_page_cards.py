"""lab_ui/browse_page/cards.py: a card's verdict line, without a script run."""

from __future__ import annotations

from lab_ui.browse_page import cards


def test_a_right_and_a_wrong_verdict():
    classes = ["T-shirt/top", "Trouser"]
    right = cards.verdict(1, 1, 0.974, classes)
    wrong = cards.verdict(0, 1, 0.51, classes)
    assert right.startswith(":green[") and "right" in right and "**Trouser**" in right and right.endswith("97%")
    assert wrong.startswith(":red[") and "**wrong**" in wrong and "**T-shirt/top**" in wrong and wrong.endswith("51%")


def test_a_class_name_from_a_checkpoint_is_shown_as_text():
    verdict = cards.verdict(0, 0, 0.5, ["*x* :red[y]"])
    assert "**\\*x\\* \\:red\\[y\\]**" in verdict
