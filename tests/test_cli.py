"""`python -m fmnist_lib`: the public contract (JSON lines, options, exit statuses)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from fmnist_lib import TrainingRun, cli, default_config, save_checkpoint
from fmnist_lib.cli import main
from fmnist_lib.images.preprocess import preprocess_image
from tests.support.checkpoints import evil
from tests.support.data import make_tiny_data
from tests.support.images import garment_photo

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "fmnist_lib", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )


@pytest.fixture(scope="module")
def softmax_ckpt(tmp_path_factory) -> Path:
    """A checkpoint written by the CLI itself, with the real data."""
    out = tmp_path_factory.mktemp("ckpt") / "softmax.pt"
    proc = run_cli("train", "--model", "softmax", "--epochs", "2", "--seed", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [row["epoch"] for row in lines] == [1, 2]
    for row in lines:
        assert {"epoch", "train_loss", "train_acc", "test_acc", "seconds"} <= row.keys()
        assert 0.6 < row["test_acc"] < 1 and row["seconds"] > 0
    return out


def garment_png(tmp_path: Path, index: int = 0) -> Path:
    """A photo of a real test image's garment, as a PNG file."""
    path = tmp_path / f"garment{index}.png"
    path.write_bytes(garment_photo(index, size=(400, 360), fmt="PNG")[0])
    return path


@pytest.mark.integration
def test_train_writes_json_lines_and_a_checkpoint_that_evaluates(softmax_ckpt):
    proc = run_cli("evaluate", "--checkpoint", str(softmax_ckpt))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"test_acc"} and 0.75 < result["test_acc"] < 1


@pytest.mark.integration
def test_options_left_out_take_the_models_defaults(softmax_ckpt):
    from fmnist_lib import load_checkpoint

    config = load_checkpoint(softmax_ckpt).config
    assert config == default_config("softmax", epochs=2, seed=1)


@pytest.mark.integration
def test_predict_top_k_json_lines(softmax_ckpt, tmp_path):
    a, b = garment_png(tmp_path, 0), garment_png(tmp_path, 1)
    proc = run_cli("predict", "--checkpoint", str(softmax_ckpt), "--top", "4", "--json", str(a), str(b))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(a), str(b)]
    for r in rows:
        assert len(r["top"]) == 4
        assert set(r["top"][0]) == {"label", "index", "prob"}
        probs = [t["prob"] for t in r["top"]]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


@pytest.mark.integration
def test_predict_answers_the_good_images_and_exits_1_when_one_fails(softmax_ckpt, tmp_path):
    good = garment_png(tmp_path)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    missing = tmp_path / "missing.jpg"
    proc = run_cli("predict", "--checkpoint", str(softmax_ckpt), str(bad), str(good), str(missing))
    assert proc.returncode == 1
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(bad), str(good), str(missing)]
    assert "error" in rows[0] and "top" in rows[1] and "error" in rows[2]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("content", [b"", b"garbage bytes", None], ids=["empty", "garbage", "missing"])
def test_unloadable_checkpoint_exits_2_with_one_line_and_no_traceback(tmp_path, content, capsys):
    ckpt = tmp_path / "model.pt"
    if content is not None:
        ckpt.write_bytes(content)
    img = tmp_path / "x.png"
    Image.new("L", (28, 28)).save(img)
    for argv in (["predict", "--checkpoint", str(ckpt), str(img)], ["evaluate", "--checkpoint", str(ckpt)]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def test_checkpoint_carrying_code_exits_2_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.pt"
    torch.save({"format": "fmnist-lab-checkpoint", "x": evil(marker)}, ckpt)
    assert main(["evaluate", "--checkpoint", str(ckpt)]) == 2
    assert "Refused" in capsys.readouterr().err
    assert not marker.exists()


def test_bad_arguments_exit_2(capsys):
    for argv in (
        ["train", "--model", "resnet", "--out", "x.pt"],
        ["train", "--epochs", "0", "--out", "x"],
        ["predict"],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err


def test_invalid_lr_is_reported_not_raised(tmp_path, capsys):
    assert main(["train", "--lr", "-1", "--out", str(tmp_path / "x.pt")]) == 2
    assert "learning rate must be a positive number" in capsys.readouterr().err


def test_train_without_data_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    from fmnist_lib import data as data_mod

    monkeypatch.setattr(data_mod, "PROJECT_DATA_DIR", tmp_path / "none")
    monkeypatch.setattr(data_mod, "DEBIAN_DATA_DIR", tmp_path / "none2")
    monkeypatch.setattr(data_mod, "_download", lambda dest: (_ for _ in ()).throw(OSError("offline")))
    assert main(["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install dataset-fashion-mnist" in err and str(tmp_path / "empty") in err


def test_predict_with_in_process_checkpoint(tmp_path, capsys):
    run = TrainingRun(default_config("softmax"))
    ckpt = tmp_path / "m.pt"
    save_checkpoint(run, ckpt)
    buf = io.BytesIO()
    Image.new("RGB", (50, 80), "white").save(buf, "JPEG")
    img = tmp_path / "white.jpg"
    img.write_bytes(buf.getvalue())
    assert main(["predict", "--checkpoint", str(ckpt), "--top", "2", str(img)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["file"] == str(img) and len(row["top"]) == 2


@pytest.mark.integration
def test_data_command_reports_where_and_how_many():
    proc = run_cli("data", "--no-download")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert (info["train"], info["test"]) == (60_000, 10_000)
    assert info["classes"][0] == "T-shirt/top" and len(info["classes"]) == 10
    assert Path(info["source"]).is_dir()


def test_data_command_without_data_exits_2_with_the_how_to(tmp_path, monkeypatch, capsys):
    from fmnist_lib import data as data_mod

    monkeypatch.setattr(data_mod, "PROJECT_DATA_DIR", tmp_path / "none")
    monkeypatch.setattr(data_mod, "DEBIAN_DATA_DIR", tmp_path / "none2")
    assert main(["data", "--data", str(tmp_path), "--no-download"]) == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_diverging_train_explains_why_keeps_a_checkpoint_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_load_data", lambda args: make_tiny_data())
    out = tmp_path / "big-lr.pt"
    assert main(["train", "--lr", "10000", "--epochs", "2", "--batch-size", "8", "--out", str(out)]) == 1
    stdout, stderr = capsys.readouterr()
    assert stdout == ""  # no epoch completed
    assert stderr.count("A learning rate of 10000 is too large") == 1
    assert "Traceback" not in stderr
    assert out.is_file()


@pytest.mark.integration
def test_default_model_command_trains_once_then_finds_the_saved_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FMNIST_MODEL_CACHE", str(tmp_path / "models"))
    assert main(["default-model", "--no-download"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["trained_now"] is True and 0.80 < first["test_acc"] < 0.86
    assert (first["data"]["train"], first["data"]["test"]) == (60_000, 10_000) and Path(
        first["data"]["source"]
    ).is_dir()
    assert Path(first["path"]).is_file() and Path(first["path"]).parent == tmp_path / "models"
    assert main(["default-model"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second == {**first, "trained_now": False}


def test_default_model_command_with_saving_off_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("FMNIST_MODEL_CACHE", "off")
    assert main(["default-model"]) == 2
    assert "switched off" in capsys.readouterr().err


@pytest.mark.integration
def test_default_model_command_that_cannot_save_exits_1_and_says_so(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FMNIST_MODEL_CACHE", str(blocker / "models"))
    assert main(["default-model", "--no-download"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["path"] is None
    assert "could not be saved" in err and "train it at each start" in err


@pytest.mark.parametrize(("augment", "view"), [("off", "mirror image"), ("mirror", "both averaged")])
def test_predict_is_mirror_aware_by_default_and_says_so(tmp_path, capsys, augment, view):
    torch.manual_seed(0)
    run = TrainingRun(default_config("softmax", augment=augment))
    torch.nn.init.normal_(run.model.linear.weight, std=0.05)  # a model whose answers differ in the mirror
    ckpt = tmp_path / "m.pt"
    save_checkpoint(run, ckpt)
    img = Image.new("L", (120, 100), 255)
    img.paste(0, (10, 20, 70, 80))
    img.paste(0, (10, 80, 110, 95))  # a dark L on white, like a boot pointing right
    path = tmp_path / "boot.png"
    img.save(path)
    rows = {}
    for flag in ([], ["--mirror"], ["--no-mirror"]):
        assert main(["predict", "--checkpoint", str(ckpt), "--top", "10", *flag, str(path)]) == 0
        rows[" ".join(flag)] = json.loads(capsys.readouterr().out)
    assert rows[""] == rows["--mirror"] and rows[""]["mirror"] is True
    # The boot faces right, unlike Fashion-MNIST's shoes: a model never shown a mirror image reads
    # its mirror image; one trained on mirror images too averages both views.
    assert rows[""]["view"] == view
    assert rows["--no-mirror"]["mirror"] is False and "view" not in rows["--no-mirror"]
    probs = {k: {t["index"]: t["prob"] for t in r["top"]} for k, r in rows.items()}
    assert probs[""] != probs["--no-mirror"]
    pixels = torch.from_numpy(preprocess_image(path).pixels)
    clf = run.classifier()
    mirrored = clf.predict(pixels.flip(-1)).probs[0]
    expected = mirrored if augment == "off" else (mirrored + clf.predict(pixels).probs[0]) / 2
    assert [probs[""][i] for i in range(10)] == pytest.approx(expected.tolist(), abs=1e-6)
