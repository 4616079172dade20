"""`python -m fmnist_lib explain`: one JSON object with the steps of one prediction; exit 1 for a bad
index or image, 2 for a bad checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fmnist_lib import TrainingRun, default_config, save_checkpoint
from fmnist_lib.cli import main
from fmnist_lib.explain import explain
from fmnist_lib.images.preprocess import preprocess_image
from tests.support.data import make_tiny_data
from tests.support.images import encode, garment

KEYS = {"label", "pred", "logits", "probs", "loss", "grad_logits"}


@pytest.fixture(scope="module")
def tiny_run():
    run = TrainingRun(default_config("softmax", epochs=1, batch_size=32))
    run.fit(make_tiny_data(n_train=128, n_test=16))
    return run


@pytest.fixture
def ckpt(tiny_run, tmp_path):
    path = tmp_path / "softmax.pt"
    save_checkpoint(tiny_run, path)
    return path


def explain_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["explain", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_image_gives_logits_and_probs_without_a_label(ckpt, tiny_run, tmp_path, capsys):
    photo = tmp_path / "shirt.png"
    photo.write_bytes(encode(garment(), "PNG"))
    code, out, err = explain_cli(capsys, "--checkpoint", str(ckpt), str(photo))
    assert code == 0, err
    assert len(out.splitlines()) == 1
    obj = json.loads(out)
    assert set(obj) == KEYS | {"view"} and obj["view"] == "image"  # a balanced T-shirt: read as it is
    assert obj["label"] is None and obj["loss"] is None and obj["grad_logits"] is None
    pixels = preprocess_image(str(photo)).pixels
    expected = tiny_run.classifier().logits(pixels)[0]
    np.testing.assert_allclose(obj["logits"], expected.numpy(), atol=1e-6)
    np.testing.assert_allclose(obj["probs"], torch.softmax(expected, 0).numpy(), atol=1e-7)
    assert obj["pred"] == int(expected.argmax())


def test_a_right_facing_image_is_explained_as_predict_reads_it(ckpt, tiny_run, tmp_path, capsys):
    from PIL import Image

    img = Image.new("L", (240, 200), 255)
    img.paste(0, (20, 40, 120, 160))  # a boot's shaft on the left, the sole pointing right
    img.paste(0, (20, 160, 220, 190))
    photo = tmp_path / "boot.png"
    img.save(photo)
    pixels = preprocess_image(str(photo)).pixels
    clf = tiny_run.classifier()
    for flag, view, x in (([], "mirror image", pixels[:, ::-1].copy()), (["--no-mirror"], None, pixels)):
        code, out, err = explain_cli(capsys, "--checkpoint", str(ckpt), *flag, str(photo))
        assert code == 0, err
        obj = json.loads(out)
        assert obj.get("view") == view
        np.testing.assert_allclose(obj["logits"], clf.logits(x)[0].numpy(), atol=1e-6)


@pytest.mark.integration
def test_a_test_index_gives_the_label_loss_and_gradient(ckpt, tiny_run, real_data, capsys):
    code, out, err = explain_cli(capsys, "--checkpoint", str(ckpt), "--test-index", "9999")
    assert code == 0, err
    obj = json.loads(out)
    y = int(real_data.test_labels[9999])
    assert obj["label"] == y
    z = torch.tensor(obj["logits"])
    assert obj["loss"] == pytest.approx(float(F.cross_entropy(z[None], torch.tensor([y]))), abs=1e-6)
    onehot = F.one_hot(torch.tensor(y), 10).float()
    np.testing.assert_allclose(obj["grad_logits"], (torch.tensor(obj["probs"]) - onehot).numpy(), atol=1e-6)
    assert obj == explain(tiny_run.classifier(), real_data.test_images[9999], y).to_json()


@pytest.mark.integration
@pytest.mark.parametrize("index", ["10000", "-1"])
def test_an_index_out_of_range_exits_1_with_one_line(ckpt, index, capsys):
    code, out, err = explain_cli(capsys, "--checkpoint", str(ckpt), "--test-index", index)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "0 to 9999" in err and "Traceback" not in err


def test_an_unusable_image_exits_1_with_one_line(ckpt, tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    code, out, err = explain_cli(capsys, "--checkpoint", str(ckpt), str(bad))
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "notes.png" in err and "Traceback" not in err
    code, out, err = explain_cli(capsys, "--checkpoint", str(ckpt), str(tmp_path / "missing.jpg"))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [b"", b"junk" * 10])
def test_an_unusable_checkpoint_exits_2_with_one_line(tmp_path, content, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    photo = tmp_path / "shirt.png"
    photo.write_bytes(encode(garment(), "PNG"))
    code, out, err = explain_cli(capsys, "--checkpoint", str(bad), str(photo))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_image_and_an_index_together_or_neither_is_a_usage_error(ckpt, capsys):
    with pytest.raises(SystemExit) as e:
        main(["explain", "--checkpoint", str(ckpt), "--test-index", "1", "x.png"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["explain", "--checkpoint", str(ckpt)])
    assert e.value.code == 2
