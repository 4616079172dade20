"""Bad experiment links for the Train page: each query and how the note on what it ignored starts.

tests/test_links.py checks fmnist_lib.links.read_query writes these notes; tests/test_app_links.py checks the
page shows the same note as plain text (Markdown and HTML in a URL shown as typed) and keeps its defaults."""

from __future__ import annotations

BAD_TRAIN_QUERIES = [
    ({"lr": "abc"}, "lr=abc: learning rate must be a number"),
    ({"lr": "0.15"}, "lr=0.15: learning rate must be one of"),
    ({"epochs": "-5"}, "epochs=-5: epochs must be a whole number from 1 to 50"),
    ({"epochs": "100000"}, "epochs=100000: epochs must be a whole number from 1 to 50"),
    ({"epochs": "2.5"}, "epochs=2.5: epochs must be a whole number"),
    ({"model": "<script>"}, "model=<script>: model must be one of softmax, cnn"),
    ({"model": "<script>alert(1)</script>"}, "model=<script>alert(1)</s"),
    ({"model": "x" * 10_000}, "model: its value is 10,000 characters long"),
    ({"seed": "7" * 10_000}, "seed: its value is 10,000 characters long"),
    ({"epochs": ["3", "4"]}, "epochs: given 2 times"),
    ({"seed": ["1", "2"]}, "seed: given 2 times"),
    ({"colour": "red"}, "colour: not a setting of this page"),
    ({"**bold**": "[x](http://example.com)"}, "**bold**: not a setting of this page"),
    ({"batch": "100"}, "batch=100: batch size must be one of 16, 32"),
    ({"seed": "-1"}, "seed=-1: seed must be a whole number from 0"),
]
