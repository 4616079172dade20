"""fmnist_lib.words: counts, articles and how far a run got, said right for 0, 1 and n."""

from __future__ import annotations

import pytest

from fmnist_lib import CLASSES
from fmnist_lib.words import how_far, plural, with_article


def test_plural_says_one_and_many_right():
    assert [plural(n, "epoch") for n in (0, 1, 2)] == ["0 epochs", "1 epoch", "2 epochs"]
    assert plural(1200, "image") == "1,200 images" and plural(2, "class", "classes") == "2 classes"


@pytest.mark.parametrize(
    "name, expected",
    [("Ankle boot", "an Ankle boot"), ("T-shirt/top", "a T-shirt/top"), ("Bag", "a Bag"), ("apple", "an apple")],
)
def test_with_article(name, expected):
    assert with_article(name) == expected


def test_every_class_name_gets_its_article():
    assert [with_article(c).split()[0] for c in CLASSES].count("an") == 1  # Ankle boot, the only vowel


def test_how_far_a_run_got_for_none_one_and_many_finished_epochs():
    assert how_far([False]) == "part-way through its first epoch"  # not "1 epoch(s) (the last ... part-way)"
    assert how_far([True, False]) == "after 1 full epoch and part of the next"
    assert how_far([True, True, False]) == "after 2 full epochs and part of the next"
    assert how_far([True]) == "after 1 epoch" and how_far([True, True]) == "after 2 epochs"
    assert how_far([]) == "after 0 epochs"
