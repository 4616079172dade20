"""fmnist_lib.notebook: the run as a notebook. Unit tests run its cells in-process on tiny data; the
integration tests execute whole exported notebooks headless with nbclient on the real data."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re

import nbformat
import pytest
import torch

from fmnist_lib import TrainingRun, build_model, default_config, predict_logits
from fmnist_lib.notebook import RESULT_PREFIX, TAG_DATA, TAG_UPLOAD, notebook_args, notebook_bytes, notebook_for
from fmnist_lib.scaling import STANDARDIZED, UNIT
from tests.support.data import make_tiny_data

# Settings that together reach every code path of the notebook's cells.
CONFIGS = {
    "softmax defaults": default_config("softmax"),
    "cnn defaults (adam, onecycle, mirror)": default_config("cnn"),
    "softmax momentum cosine mirror+shift wd": default_config(
        "softmax", optimizer="momentum", schedule="cosine", augment="mirror+shift", weight_decay=1e-3, seed=7
    ),
    "cnn sgd constant": default_config("cnn", optimizer="sgd", schedule="constant", augment="off", lr=0.05),
}


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _tagged(nb, tag):
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def _run_in_process(nb, data, *, until: str | None = None) -> tuple[dict, str]:
    """Execute the notebook's code cells here, with `data` in place of the data cell; (namespace, output)."""
    ns: dict = {
        "train_images": data.train_images,
        "train_labels": data.train_labels,
        "test_images": data.test_images,
        "test_labels": data.test_labels,
    }
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in _code_cells(nb):
            if TAG_DATA in cell.metadata.get("tags", []):
                continue
            exec(compile(cell.source, "<cell>", "exec"), ns)
            if until is not None and until in cell.source:
                break
    return ns, out.getvalue()


def _final_accuracy(text: str) -> float:
    found = re.findall(rf"^{re.escape(RESULT_PREFIX)}([0-9.]+)$", text, flags=re.M)
    assert found, f"no {RESULT_PREFIX!r} line in the output:\n{text[-2000:]}"
    return float(found[-1])


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_the_notebook_is_valid_compiles_and_never_imports_the_lab(config):
    nb = nbformat.reads(notebook_bytes(config).decode("utf-8"), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in _code_cells(nb):
        compile(cell.source, "<cell>", "exec")  # every code cell is valid Python
        assert "fmnist_lib" not in cell.source and "lab_ui" not in cell.source
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "CrossEntropyLoss" in markdown and "log-sum-exp" in markdown


def test_the_notebook_holds_the_run_settings():
    config = default_config("cnn", lr=0.003, epochs=7, batch_size=64, weight_decay=0.0005, seed=42)
    nb = notebook_for(config, STANDARDIZED, epochs=4, lab_accuracy=0.9123, part_epoch=True)
    code = "\n".join(c.source for c in _code_cells(nb))
    for line in (
        "LR = 0.003",
        "EPOCHS = 7",
        "TRAIN_EPOCHS = 4",
        "BATCH_SIZE = 64",
        "WEIGHT_DECAY = 0.0005",
        "SEED = 42",
        "PIXEL_MEAN, PIXEL_STD = 0.286, 0.353",
        "torch.optim.Adam(",
        "def augment(",
        "ONECYCLE_WARMUP",
        "nn.Conv2d(1, 16",
    ):
        assert line in code
    assert "'Ankle boot'" in code
    assert "the lab's run: 0.9123" in code
    intro = nb.cells[0].source
    assert "4 of 7" in intro and "part-way" in intro and "91.23%" in intro
    assert nb.metadata.fmnist_lab.config == config.to_dict() and nb.metadata.fmnist_lab.epochs == 4


def test_only_the_runs_choices_are_written_into_the_cells():
    code = "\n".join(c.source for c in _code_cells(notebook_for(default_config("softmax"))))
    assert "torch.optim.SGD(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)" in code
    assert "Adam" not in code and "def augment" not in code and "Conv2d" not in code and "ONECYCLE" not in code
    assert "nn.init.normal_(linear.weight, mean=0.0, std=0.01" in code  # the tutorial's init


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="epochs"):
        notebook_for(default_config("softmax"), epochs=0)
    with pytest.raises(ValueError, match="10 classes"):
        notebook_for(default_config("softmax"), classes=("a", "b"))


def test_class_names_are_written_as_literals_never_as_code():
    classes = tuple(f"c{i}" for i in range(9)) + ("x'); import os; os.system('echo pwned') #",)
    nb = notebook_for(default_config("softmax"), classes=classes)
    ns, _ = _run_in_process(nb, make_tiny_data(), until="classes = [")
    assert ns["classes"][-1] == classes[-1]


@pytest.mark.parametrize(("kind", "seed"), [("softmax", 0), ("softmax", 123), ("cnn", 0), ("cnn", 5)])
def test_the_initial_weights_are_the_labs(kind, seed):
    nb = notebook_for(default_config(kind, seed=seed))
    ns, _ = _run_in_process(nb, make_tiny_data(), until="init_generator")
    lab = build_model(kind, torch.Generator().manual_seed(seed))
    mine = [p.detach() for p in ns["net"].parameters()]
    theirs = [p.detach() for p in lab.parameters()]
    assert [p.shape for p in mine] == [p.shape for p in theirs]
    for a, b in zip(mine, theirs, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_the_notebook_trains_the_labs_run_on_tiny_data(config):
    # The same draws (weights, shuffles, augmentation), the same update rules: the same model, up to the
    # order of float sums (the lab's softmax uses a closed-form gradient, the notebook autograd).
    data = make_tiny_data(n_train=96, n_test=48)
    config = dataclasses.replace(config, epochs=3, batch_size=16)
    run = TrainingRun(config)
    run.fit(data)
    nb = notebook_for(config, run.scaling, lab_accuracy=run.test_acc)
    ns, out = _run_in_process(nb, data)
    assert ns["test_acc"] == pytest.approx(run.test_acc, abs=1e-6)  # the same test images right
    assert _final_accuracy(out) == pytest.approx(run.test_acc, abs=5e-5)  # and the line a script reads
    # The models' test logits, not their weights: with Adam a weight whose gradient is ~0 (a conv bias before
    # batch normalisation, a dead unit) moves by +-lr on rounding noise alone, yet changes no output.
    net = ns["net"].eval()
    with torch.no_grad():
        mine = net(ns["to_input"](data.test_images))
    torch.testing.assert_close(mine, predict_logits(run.model, run.scaling, data.test_images), rtol=1e-3, atol=2e-2)
    assert "No image: set image_path" in out  # the upload cell, with no image, explains and does not fail


def test_a_stopped_run_gives_its_epochs_and_the_schedule_of_all(tiny_data):
    config = default_config("softmax", epochs=5, schedule="cosine")
    run = TrainingRun(config)
    run.fit(tiny_data, epochs=2)
    args = notebook_args(run)
    assert args["epochs"] == 2 and args["config"].epochs == 5 and not args["part_epoch"]
    nb = notebook_for(**args)
    ns, out = _run_in_process(nb, tiny_data)
    assert len(ns["history"]) == 2
    assert ns["test_acc"] == pytest.approx(run.test_acc, abs=1e-6)


def test_an_untrained_run_gives_its_configured_epochs():
    args = notebook_args(TrainingRun(default_config("softmax", epochs=3)))
    assert args["epochs"] == 3 and args["lab_accuracy"] is None


def test_the_upload_cell_scales_the_photo_as_the_model_was_trained(tmp_path):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (60, 40), (240, 240, 240))  # a dark garment on a light background
    ImageDraw.Draw(img).rectangle((10, 8, 50, 32), fill=(20, 20, 30))
    path = tmp_path / "photo.png"
    img.save(path)
    data = make_tiny_data()
    for scaling in (UNIT, STANDARDIZED):
        nb = notebook_for(default_config("softmax", epochs=1, batch_size=16), scaling)
        (cell,) = _tagged(nb, TAG_UPLOAD)
        cell.source = cell.source.replace('image_path = ""', f"image_path = {str(path)!r}", 1)
        ns, out = _run_in_process(nb, data)
        x = ns["x"]  # what the model was shown
        expected = (torch.from_numpy(ns["pixels"]).float() / 255 - scaling.mean) / scaling.std
        torch.testing.assert_close(x.view(28, 28), expected)
        assert "1) " in out and "Predicted:" in out


# --- the exported notebook, executed headless on the real data --------------------------------------

AGREEMENT = 0.005  # the notebook's final test accuracy within half a point of the lab's


def _execute(nb, folder) -> str:
    """Run the notebook in a fresh ipykernel (nbclient) in `folder`; the text it printed."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return "\n".join(
        out.get("text", "")
        for cell in _code_cells(nb)
        for out in cell.get("outputs", [])
        if out.output_type == "stream"
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    "config",
    [
        default_config("softmax"),  # the tutorial's: 10 epochs of SGD at 0.1, batch 256, seed 0
        default_config("softmax", optimizer="adam", schedule="cosine", epochs=3, lr=0.01),
    ],
    ids=["softmax defaults", "softmax adam cosine 3 epochs"],
)
def test_the_exported_notebook_reproduces_the_labs_run(config, real_data, tmp_path, monkeypatch):
    from fmnist_lib.data import locate

    run = TrainingRun(config)
    run.fit(real_data, test_every_epoch=False)
    # The kernel inherits this environment: the data the lab used, and one thread (2 cores in CI).
    monkeypatch.setenv("FMNIST_DATA", str(locate()))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.reads(notebook_bytes(**notebook_args(run)).decode("utf-8"), as_version=4)
    text = _execute(nb, tmp_path)
    assert "Fashion-MNIST read from" in text  # found without downloading
    accuracy = _final_accuracy(text)
    print(f"{config}: lab {run.test_acc:.4f}, notebook {accuracy:.4f}")
    assert abs(accuracy - run.test_acc) <= AGREEMENT
