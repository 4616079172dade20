"""lab_ui/upload_page/tutorial_view.py's words, without a script run: what happened for one image, and why the
tutorial's scaling is wrong in general, from fmnist_lib.tutorial_scaling's facts."""

from __future__ import annotations

from fmnist_lib.tutorial_scaling import OneImage, OnTestSet
from lab_ui.upload_page.tutorial_view import what_happened, why_wrong


def _top(label: str, index: int, prob: float) -> tuple[dict, ...]:
    return ({"label": label, "index": index, "prob": prob}, {"label": "Bag", "index": 8, "prob": 0.01})


def test_a_sure_matching_answer_is_called_luck():
    said = what_happened(OneImage(_top("Sneaker", 7, 0.98), _top("Sneaker", 7, 0.71), False))
    assert "happens to give the same answer" in said and "**Sneaker** (98.0%)" in said and "sounds sure" in said
    assert "luck, not a working pipeline" in said


def test_an_unsure_matching_answer_gives_both_probabilities():
    said = what_happened(OneImage(_top("Sneaker", 7, 0.40), _top("Sneaker", 7, 0.71), False))
    assert "happens to give the same answer" in said and "(40.0% against 71.0%)" in said and "sure" not in said


def test_a_sure_other_answer_is_said_to_mean_nothing():
    said = what_happened(OneImage(_top("Bag", 8, 0.99), _top("Sneaker", 7, 0.71), False))
    assert "changes the answer to **Bag** (99.0%)" in said and "**Sneaker** (71.0%)" in said
    assert "its confidence says nothing" in said


def test_another_answer():
    said = what_happened(OneImage(_top("Bag", 8, 0.5), _top("Sneaker", 7, 0.71), False))
    assert said == "Here the tutorial's scaling changes the answer: **Bag** (50.0%) instead of **Sneaker** (71.0%)."


def test_a_class_name_from_a_checkpoint_is_plain_text():
    said = what_happened(OneImage(_top("**x** :red[y]", 8, 0.5), _top("Sneaker", 7, 0.71), False))
    assert r"\*\*x\*\* \:red\[y\]" in said


def test_why_it_is_wrong_in_general_gives_the_test_set_figure():
    said = why_wrong(OnTestSet(10_000, 0.3456, 0.8232, 0.41, 0.12))
    assert "black background becomes -0.81 instead of 0 and white 2.02 instead of 1" in said
    assert "On the 10,000 test images it gets 34.6% right, against 82.3% with the model's own scaling" in said
    assert "agree on 41% of them, and 12% are wrong at 90% or more" in said
    assert "test images" not in why_wrong(None)
