"""What the Inside softmax page must show, for its AppTest and its Chromium test alike."""

# One formula of each step, as the page's LaTeX source writes it.
KEY_FORMULAS = (
    r"z = W x + b",
    r"\frac{e^{z_c}}",
    r"L = -\log p_y",
    r"m + \log \sum_j e^{z_j - m}",
    r"p_c - \mathbb{1}",
)
