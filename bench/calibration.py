"""Why temperature scaling made the ECE worse on Browse, measured on the real data.

    nice .venv/bin/python -m bench.calibration [--model softmax] [--model softmax-adam] [--model cnn]

For each model (trained once and kept in data/models by fmnist_lib.model_cache): its ECE on the
10,000 test images at T = 1; the temperature fitted as Browse used to (on 10,000 training images)
and the ECE after it; the temperature fitted on the test set itself (in-sample: the most any T can
do); the ECE of a perfectly calibrated model with the same confidences (the floor that 10,000
samples and 10 bins leave); the cross-fitted split Browse now uses (T fitted on one half of the
test set, judged on the other, both ways); the ECE and the loss along a grid of T. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch

from fmnist_lib import default_config, load_fashion_mnist
from fmnist_lib.analysis import _nll, cross_fit_temperature, fit_temperature, reliability
from fmnist_lib.inference import as_uint8_images, predict_logits
from fmnist_lib.model_cache import cache_dir, fit_or_load

MODELS = {
    "softmax": default_config("softmax"),
    "softmax-adam": default_config("softmax").__class__(optimizer="adam", lr=1e-3, epochs=10),
    "cnn": default_config("cnn"),
}


def ece(z: torch.Tensor, y: torch.Tensor, t: float | torch.Tensor, bins: int = 10) -> float:
    conf, pred = torch.softmax(z / t, dim=1).max(dim=1)
    return reliability(conf.numpy(), (pred == y).numpy(), bins).ece


def sampling_floor(z: torch.Tensor, t: float, bins: int, draws: int, rng: np.random.Generator) -> float:
    """Mean ECE of a model exactly as confident as this one and perfectly calibrated: right with
    probability = its confidence. Whatever is left is what finite bins and samples add."""
    conf = torch.softmax(z / t, dim=1).max(dim=1).values.numpy()
    return float(np.mean([reliability(conf, rng.random(len(conf)) < conf, bins).ece for _ in range(draws)]))


def measure(name: str, data) -> list[str]:
    run = fit_or_load(MODELS[name], data, cache_dir(), test_every_epoch=False).run
    c = run.classifier()
    z_tr = predict_logits(c.model, c.scaling, as_uint8_images(data.train_images[:10_000]), 500).double()
    y_tr = torch.as_tensor(data.train_labels[:10_000], dtype=torch.int64)
    z = predict_logits(c.model, c.scaling, as_uint8_images(data.test_images), 500).double()
    y = torch.as_tensor(data.test_labels, dtype=torch.int64)
    rng = np.random.default_rng(0)
    t_train = fit_temperature(z_tr, y_tr)
    t_test = fit_temperature(z, y)
    fit = cross_fit_temperature(z, y)  # the split Browse uses
    acc_tr = float((z_tr.argmax(1) == y_tr).double().mean())
    acc_te = float((z.argmax(1) == y).double().mean())
    lines = [
        f"### {name}: {run.config.optimizer} lr {run.config.lr}, {run.config.epochs} epochs",
        "",
        f"- accuracy: {acc_tr:.2%} on the 10,000 training images T was fitted on, {acc_te:.2%} on the test images",
        f"- mean loss at T = 1: {_nll(z_tr, y_tr, 1.0):.4f} on those training images, {_nll(z, y, 1.0):.4f} on test",
        "",
        "| temperature | T | test ECE, 10 bins | 15 bins | test loss |",
        "|---|---|---|---|---|",
    ]
    for label, t in (
        ("none (T = 1)", 1.0),
        ("fitted on 10,000 training images (Browse before)", t_train),
        ("fitted on the test set itself (in-sample)", t_test),
    ):
        lines.append(f"| {label} | {t:.3f} | {ece(z, y, t):.2%} | {ece(z, y, t, 15):.2%} | {_nll(z, y, 1 / t):.4f} |")
    per_image = fit.per_image_temperature
    lines.append(
        f"| cross-fitted halves (Browse now) | {fit.temperatures[0]:.3f} / {fit.temperatures[1]:.3f} | "
        f"{ece(z, y, per_image[:, None]):.2%} | {ece(z, y, per_image[:, None], 15):.2%} | "
        f"{float(torch.nn.functional.cross_entropy(z / per_image[:, None], y)):.4f} |"
    )
    floor = sampling_floor(z, 1.0, 10, 200, rng)
    boot = [ece(z[i], y[i], 1.0) for i in (torch.as_tensor(rng.integers(0, len(y), len(y))) for _ in range(200))]
    lines += [
        "",
        f"- ECE of a perfectly calibrated model as confident as this one, 10,000 images, 10 bins: {floor:.2%} "
        f"(the floor); bootstrap spread of the measured ECE: ±{np.std(boot):.2%} (1 s.d.)",
        "",
        "ECE and loss on the test images along T:",
        "",
        "| T | " + " | ".join(f"{t:.2f}" for t in T_GRID) + " |",
        "|---|" + "---|" * len(T_GRID),
        "| ECE | " + " | ".join(f"{ece(z, y, t):.2%}" for t in T_GRID) + " |",
        "| loss | " + " | ".join(f"{_nll(z, y, 1 / t):.4f}" for t in T_GRID) + " |",
        "",
    ]
    return lines


T_GRID = (0.8, 0.9, 1.0, 1.05, 1.1, 1.2, 1.3, 1.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", choices=list(MODELS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_fashion_mnist()
    out = [f"Measured on {platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.1f}", ""]
    for name in args.model or ["softmax"]:
        out += measure(name, data)
    print("\n".join(out))


if __name__ == "__main__":
    main()
