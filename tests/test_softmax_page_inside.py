"""lab_ui/softmax_page/inside.py's charts without a script run."""

from __future__ import annotations

from lab_ui.softmax_page import inside


def test_a_probability_axis_ends_at_one():
    spec = inside.value_bars(list("abc"), [0.7, 0.2, 0.1], "p", "probability", fmt=".1%", top=1.0).to_dict()
    (domain,) = {tuple(layer["encoding"]["x"]["scale"]["domain"]) for layer in spec["layer"]}
    assert domain == (0.0, 1.0)


def test_signed_values_keep_their_padded_axis():
    spec = inside.value_bars(list("ab"), [-2.0, 3.0], "z", "logit").to_dict()
    lo, hi = spec["layer"][0]["encoding"]["x"]["scale"]["domain"]
    assert lo < -2.0 and hi > 3.0


def test_the_log_sum_exp_identity_breaks_before_m_so_a_phone_does_not_cut_it():
    identity, where = inside.LSE_LATEX.split(r"\\")
    assert r"\log \sum_j e^{z_j} = m + \log \sum_j e^{z_j - m}" in identity and r"\max_j" not in identity
    assert r"m = \max_j z_j" in where
    assert inside.LSE_LATEX.startswith(r"\begin{gathered}")  # KaTeX centres each line of a gathered block
