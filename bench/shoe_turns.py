"""How often the pipeline turns Fashion-MNIST's own garments, and whether it lays tilted shoes back on their soles.

    .venv/bin/python -m bench.shoe_turns [--n 100]

The first N test images of each class, scaled 10x (nearest) as a dark garment on white: a product photo
of the garment as Fashion-MNIST has it, standing as the model learned it. For each: the turn the pipeline
("ours") applies as it is, and with it turned 30 degrees clockwise (as a drawn shoe leans), with and
without laying a shoe on its sole (preprocess_image(..., lay_on_sole=False): the rule before it).
Prints a Markdown table for bench/results/deskew.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fmnist_lib import CLASSES, load_fashion_mnist
from fmnist_lib.images.preprocess import preprocess_image
from tests.support.images import on_white, turned

TILT = 30.0  # degrees, clockwise: the shoe's toe (left) goes up, as Apple's and Facebook's emoji lean


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="test images per class (default 100)")
    args = ap.parse_args(argv)
    data = load_fashion_mnist(download=False)
    images, labels = data.test_images.numpy(), data.test_labels.numpy()
    t0 = time.perf_counter()
    lines = [
        f"`python -m bench.shoe_turns --n {args.n}`, {time.strftime('%Y-%m-%d %H:%M')}: the first {args.n} "
        "test images of each class, 10x on white.",
        "",
        "| class | upright: turned, before | upright: turned, with the sole rule | "
        f"{TILT:.0f}° off: laid on its sole | {TILT:.0f}° off: turned back within 5° |",
        "|---|---:|---:|---:|---:|",
    ]
    for c, name in enumerate(CLASSES):
        idx = np.flatnonzero(labels == c)[: args.n]
        before = with_sole = on_sole = back = 0
        for i in idx:
            before += turned(preprocess_image(on_white(images[i]), lay_on_sole=False))[0] != 0
            with_sole += turned(preprocess_image(on_white(images[i])))[0] != 0
            angle, sole = turned(preprocess_image(on_white(images[i], angle=-TILT)))
            on_sole += sole
            back += abs(angle - TILT) <= 5
        n = len(idx)
        lines.append(f"| {name} | {before / n:.0%} | {with_sole / n:.0%} | {on_sole / n:.0%} | {back / n:.0%} |")
    lines.append("")
    lines.append(f"({time.perf_counter() - t0:.0f} s)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
