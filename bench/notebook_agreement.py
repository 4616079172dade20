"""The lab's run against its exported notebook, executed headless (nbclient), on the real data.

    python -m bench.notebook_agreement          # the configurations below (~5 minutes on 2 cores)

Each configuration is trained by TrainingRun, exported with fmnist_lib.notebook, executed in a fresh
ipykernel with one thread, and the two final test accuracies compared. Writes
bench/results/notebook_agreement.md and prints it. tests/test_notebook.py checks the first two.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from fmnist_lib import TrainingRun, default_config, load_fashion_mnist
from fmnist_lib.data import locate
from fmnist_lib.loop import set_threads
from fmnist_lib.notebook import RESULT_PREFIX, notebook_args, notebook_bytes

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "notebook_agreement.md"

CONFIGS = [
    ("softmax defaults (SGD 0.1, 10 epochs)", default_config("softmax")),
    ("softmax, Adam 0.01, cosine, 3 epochs", default_config("softmax", optimizer="adam", schedule="cosine", epochs=3, lr=0.01)),
    (
        "softmax, momentum 0.01, cosine, mirror+shift, wd 1e-4, seed 7, 3 epochs",
        default_config(
            "softmax", optimizer="momentum", lr=0.01, schedule="cosine", augment="mirror+shift", weight_decay=1e-4,
            seed=7, epochs=3,
        ),
    ),
    ("cnn defaults (Adam 4e-3, one-cycle, mirror), 2 epochs", default_config("cnn", epochs=2)),
]  # fmt: skip


def notebook_accuracy(nb, folder: str) -> tuple[float, float]:
    """(final test accuracy, seconds) of the notebook run in a fresh kernel in `folder`."""
    start = time.perf_counter()
    NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
    seconds = time.perf_counter() - start
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    return float(re.findall(rf"^{re.escape(RESULT_PREFIX)}([0-9.]+)$", text, flags=re.M)[-1]), seconds


def main() -> None:
    set_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # the kernel's torch too
    os.environ["FMNIST_DATA"] = str(locate())
    data = load_fashion_mnist(download=False)
    rows = []
    for name, config in CONFIGS:
        start = time.perf_counter()
        run = TrainingRun(config)
        run.fit(data, test_every_epoch=False)
        lab_seconds = time.perf_counter() - start
        nb = nbformat.reads(notebook_bytes(**notebook_args(run)).decode("utf-8"), as_version=4)
        with tempfile.TemporaryDirectory() as folder:
            acc, nb_seconds = notebook_accuracy(nb, folder)
        rows.append(
            f"| {name} | {run.test_acc:.2%} | {acc:.2%} | {100 * (acc - run.test_acc):+.2f} | "
            f"{lab_seconds:.0f} | {nb_seconds:.0f} |"
        )
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            "# The lab's run against its exported notebook",
            "",
            "`python -m bench.notebook_agreement`: each run trained by `TrainingRun`, then its notebook executed",
            "headless with nbclient (one torch thread both), on the real data. Seconds are wall time on a shared",
            "machine (the notebook's include starting the kernel and reading the data).",
            "",
            "| configuration | lab | notebook | points | lab s | notebook s |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
