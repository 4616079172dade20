"""Which learning rate each optimizer brings on the Train page (lab_ui/train_page/controls.OPTIMIZER_LR).

    .venv/bin/python -m bench.optimizer_lr              # softmax and CNN (~5 minutes on 2 cores)
    .venv/bin/python -m bench.optimizer_lr --no-cnn     # softmax only (~30 s)

A quick measurement, not a search: each (model, optimizer) at a few rates of the page's
log-scale slider, 2 epochs of the model's other defaults (same seed), test accuracy after
each epoch. Writes bench/results/optimizer_lr.md and prints it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "optimizer_lr.md"
EPOCHS = 2

GRID = {
    "softmax": {
        "sgd": (0.05, 0.1, 0.2, 0.5),
        "momentum": (0.005, 0.01, 0.02, 0.05, 0.1),
        "adam": (2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.1),
    },
    "cnn": {
        "sgd": (0.02, 0.05, 0.1),
        "momentum": (0.005, 0.01, 0.05),
        "adam": (5e-4, 1e-3, 2e-3),
    },
}


def measure(models: list[str]) -> list[dict]:
    from fmnist_lib import TrainingRun, default_config, load_fashion_mnist

    data = load_fashion_mnist(download=False)
    rows = []
    for model in models:
        for optimizer, lrs in GRID[model].items():
            for lr in lrs:
                config = default_config(model, optimizer=optimizer, lr=lr, epochs=EPOCHS)
                run = TrainingRun(config, classes=data.classes)
                t0 = time.perf_counter()
                run.fit(data)
                rows.append(
                    {
                        "model": model,
                        "optimizer": optimizer,
                        "lr": lr,
                        "status": run.status,
                        "test_acc": [e.test_acc for e in run.history],
                        "seconds": time.perf_counter() - t0,
                    }
                )
                print(rows[-1], flush=True)
    return rows


def report(rows: list[dict]) -> str:
    lines = [
        "# Learning rate per optimizer",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python -m bench.optimizer_lr`: {EPOCHS} epochs of each "
        "model's defaults (seed 0) with only the optimizer and the learning rate changed; test accuracy after "
        "each epoch. One run per cell: differences under ~0.5 points are noise.",
        "",
        "| model | optimizer | lr | test accuracy, epoch 1 → 2 | status | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        accs = " → ".join(f"{a:.1%}" for a in r["test_acc"] if a is not None) or "—"
        lines.append(f"| {r['model']} | {r['optimizer']} | {r['lr']:g} | {accs} | {r['status']} | {r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-cnn", action="store_true")
    args = ap.parse_args(argv)
    text = report(measure(["softmax"] if args.no_cnn else ["softmax", "cnn"]))
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
