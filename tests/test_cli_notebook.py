"""`python -m fmnist_lib notebook`: a run as a notebook from a checkpoint or from settings; bad input exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from fmnist_lib import TrainingRun, default_config, save_checkpoint
from fmnist_lib.cli import main
from tests.support.checkpoints import evil
from tests.support.data import make_tiny_data

ROOT = Path(__file__).resolve().parent.parent


def _read(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_from_settings_mirrors_the_train_flags(tmp_path, capsys):
    out = tmp_path / "run.ipynb"
    argv = ["notebook", "--model", "cnn", "--lr", "0.002", "--epochs", "4", "--batch-size", "64"]
    argv += ["--optimizer", "momentum", "--schedule", "cosine", "--augment", "mirror+shift"]
    argv += ["--weight-decay", "0.0001", "--seed", "9", "--out", str(out)]
    assert main(argv) == 0
    meta = _read(out).metadata.fmnist_lab
    assert meta.config == default_config(
        "cnn", lr=0.002, epochs=4, batch_size=64, optimizer="momentum", schedule="cosine", augment="mirror+shift",
        weight_decay=0.0001, seed=9,
    ).to_dict()  # fmt: skip
    assert meta.epochs == 4 and meta.scaling == {"mean": 0.286, "std": 0.353}
    assert "written to" in capsys.readouterr().err


def test_from_no_settings_gives_the_tutorials_run(tmp_path):
    out = tmp_path / "run.ipynb"
    assert main(["notebook", "--out", str(out)]) == 0
    meta = _read(out).metadata.fmnist_lab
    assert meta.config == default_config("softmax").to_dict() and meta.scaling == {"mean": 0.0, "std": 1.0}


def test_from_a_checkpoint_gives_its_settings_scaling_and_epochs_done(tmp_path):
    run = TrainingRun(default_config("softmax", epochs=5, lr=0.05, seed=3, batch_size=16))
    run.fit(make_tiny_data(), epochs=2)  # stopped after 2 of 5
    ckpt = tmp_path / "m.pt"
    save_checkpoint(run, ckpt)
    out = tmp_path / "run.ipynb"
    assert main(["notebook", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    nb = _read(out)
    assert nb.metadata.fmnist_lab.config == run.config.to_dict()
    assert nb.metadata.fmnist_lab.epochs == 2 and nb.metadata.fmnist_lab.lab_test_accuracy == run.test_acc
    assert "2 of 5" in nb.cells[0].source


def test_the_module_runs_as_a_command(tmp_path):
    out = tmp_path / "run.ipynb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "fmnist_lib", "notebook", "--epochs", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _read(out).metadata.fmnist_lab.epochs == 3 and proc.stdout == ""


def test_a_missing_checkpoint_exits_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "run.ipynb"
    assert main(["notebook", "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(out)]) == 2
    _one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04" + b"\x00" * 100], ids=str)
def test_a_damaged_checkpoint_exits_2_with_one_line(tmp_path, capsys, content):
    ckpt = tmp_path / "bad.pt"
    ckpt.write_bytes(content)
    assert main(["notebook", "--checkpoint", str(ckpt), "--out", str(tmp_path / "run.ipynb")]) == 2
    _one_error_line(capsys)


def test_a_truncated_real_checkpoint_exits_2(tmp_path, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(TrainingRun(default_config("cnn")), ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:-500])
    assert main(["notebook", "--checkpoint", str(ckpt), "--out", str(tmp_path / "run.ipynb")]) == 2
    _one_error_line(capsys)


def test_a_checkpoint_carrying_code_exits_2_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "ran"
    ckpt = tmp_path / "evil.pt"
    torch.save(evil(marker), ckpt)
    assert main(["notebook", "--checkpoint", str(ckpt), "--out", str(tmp_path / "run.ipynb")]) == 2
    _one_error_line(capsys)
    assert not marker.exists()


@pytest.mark.parametrize(
    "flags",
    [["--lr", "-1"], ["--lr", "nan"], ["--weight-decay", "2"], ["--epochs", "0"], ["--model", "mlp"], ["--lr", "abc"]],
    ids=lambda f: " ".join(f),
)
def test_bad_settings_exit_2_with_one_line(tmp_path, capsys, flags):
    out = tmp_path / "run.ipynb"
    with pytest.raises(SystemExit) as exc:  # argparse's own refusals exit through SystemExit(2)
        code = main(["notebook", *flags, "--out", str(out)])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err and "Traceback" not in err, err
    assert not out.exists()


def test_checkpoint_and_settings_together_are_refused(tmp_path, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(TrainingRun(default_config("softmax")), ckpt)
    assert main(["notebook", "--checkpoint", str(ckpt), "--lr", "0.5", "--out", str(tmp_path / "r.ipynb")]) == 2
    assert "--lr" in _one_error_line(capsys)


def test_an_unwritable_out_exits_2_with_one_line(tmp_path, capsys):
    assert main(["notebook", "--out", str(tmp_path / "missing" / "run.ipynb")]) == 2
    assert "does not exist" in _one_error_line(capsys)
    assert main(["notebook", "--out", str(tmp_path)]) == 2  # a folder
    assert "run.ipynb" in _one_error_line(capsys)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(["notebook", "--out", str(locked / "run.ipynb")]) == 2
        _one_error_line(capsys)


def test_a_failed_write_leaves_no_file_and_exits_2(tmp_path, capsys, monkeypatch):
    import builtins

    real_open = builtins.open

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).startswith(str(tmp_path)):
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_disk)
    out = tmp_path / "run.ipynb"
    assert main(["notebook", "--out", str(out)]) == 2
    assert "No space left" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []
