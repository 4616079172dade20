"""The CLI under faults (issue 11): no NaN in its JSON, unwritable --out and cache, FIFOs and folders as images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from fmnist_lib import TrainingRun, cli, default_config, save_checkpoint
from fmnist_lib.cli import json_line, main
from tests.support.data import make_tiny_data

ROOT = Path(__file__).resolve().parent.parent


def _strict_json(line: str):
    """json.loads that refuses NaN and Infinity, which Python's json would otherwise accept."""
    return json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in the JSON: {line}"))


def test_json_line_writes_null_for_nan_and_infinity_never_invalid_json():
    line = json_line({"a": float("nan"), "b": [1.5, float("inf")], "c": {"d": -float("inf")}, "e": "NaN"})
    assert _strict_json(line) == {"a": None, "b": [1.5, None], "c": {"d": None}, "e": "NaN"}


def _checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "m.pt"
    save_checkpoint(TrainingRun(default_config("softmax")), path)
    return path


def _png(tmp_path: Path, name: str = "white.png") -> Path:
    path = tmp_path / name
    Image.new("L", (40, 40), 255).save(path)
    return path


def test_predict_with_non_finite_probabilities_is_an_error_line_not_nan(tmp_path, monkeypatch, capsys):
    # The checkpoint checks refuse non-finite weights, so the broken model is made after loading.
    real = cli._load_run

    def broken(args):
        run = real(args)
        with torch.no_grad():
            run.model.linear.weight.fill_(float("nan"))
        return run

    monkeypatch.setattr(cli, "_load_run", broken)
    assert main(["predict", "--checkpoint", str(_checkpoint(tmp_path)), str(_png(tmp_path))]) == 1
    row = _strict_json(capsys.readouterr().out)
    assert "top" not in row and "not finite" in row["error"]


def test_train_into_a_missing_folder_exits_2_before_any_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_load_data", lambda args: pytest.fail("trained although --out cannot be written"))
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "nope" / "m.pt")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert "does not exist" in err and str(tmp_path / "nope") in err


def test_train_into_an_unwritable_folder_exits_2_before_training(tmp_path):
    from tests.support.faults import unprivileged

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    # No data can be found ($FMNIST_DATA empty folder, no download): the --out check must come first.
    proc = unprivileged(
        [sys.executable, "-m", "fmnist_lib", "train", "--data", str(tmp_path), "--out", str(folder / "m.pt")],
        env={"PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2, proc.stderr
    assert "cannot be written" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_train_whose_save_fails_warns_in_one_line_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_load_data", lambda args: make_tiny_data())

    def full_disk(run, dest):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "save_checkpoint", full_disk)
    assert main(["train", "--epochs", "1", "--batch-size", "8", "--out", str(tmp_path / "m.pt")]) == 1
    out, err = capsys.readouterr()
    assert [json.loads(line)["epoch"] for line in out.splitlines()] == [1]
    assert err.startswith("warning:") and len(err.strip().splitlines()) == 1
    assert "No space left on device" in err and "Traceback" not in err


def test_default_model_with_a_cache_that_cannot_be_a_folder_warns_and_exits_1(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file where the cache folder should be")
    monkeypatch.setenv("FMNIST_MODEL_CACHE", str(blocker))
    monkeypatch.setattr(cli, "_load_data", lambda args: make_tiny_data())
    monkeypatch.setattr(cli, "default_config", lambda kind: default_config(kind, epochs=1, batch_size=8))
    assert main(["default-model"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["path"] is None
    assert err.startswith("warning:") and "could not be saved" in err and "Traceback" not in err


def test_predict_answers_a_fifo_and_a_folder_at_once_and_the_other_images(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.png"
    folder.mkdir()
    good = _png(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "fmnist_lib", "predict", "--checkpoint", str(_checkpoint(tmp_path)), str(fifo),
         str(good), str(folder)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(fifo), str(good), str(folder)]
    assert "FIFO" in rows[0]["error"] and "top" in rows[1] and "folder" in rows[2]["error"]


NOTE = "The folder you named ($FMNIST_DATA), /nowhere, was not used: it does not exist."


@pytest.mark.parametrize("command", ["data", "evaluate", "explain"])
def test_a_named_data_folder_that_was_not_used_is_a_warning_on_stderr(tmp_path, monkeypatch, capsys, command):
    from dataclasses import replace

    data = replace(make_tiny_data(), notes=(NOTE,))
    monkeypatch.setattr(cli, "load_fashion_mnist", lambda *a, **k: data)
    argv = {
        "data": ["data"],
        "evaluate": ["evaluate", "--checkpoint", str(_checkpoint(tmp_path))],
        "explain": ["explain", "--checkpoint", str(_checkpoint(tmp_path)), "--test-index", "0"],
    }[command]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"warning: {NOTE}"]
    _strict_json(out)  # stdout stays one JSON object
