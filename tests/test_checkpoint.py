"""fmnist_lib.checkpoint: the round trip, and the refusal of anything else, above all of code."""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest
import torch

from fmnist_lib import CheckpointError, TrainingRun, default_config, load_checkpoint, save_checkpoint
from fmnist_lib.checkpoint import checkpoint_bytes, checkpoint_dict
from fmnist_lib.scaling import InputScaling
from tests.support.checkpoints import evil


@pytest.mark.parametrize("model", ["softmax", "cnn"])
def test_round_trip_keeps_kind_config_weights_classes_scaling_and_history(tiny_data, tmp_path, model):
    config = default_config(model, epochs=2, batch_size=16, lr=0.05 if model == "softmax" else 0.005, seed=3)
    run = TrainingRun(config, scaling=InputScaling(0.1, 0.7))
    assert run.fit(tiny_data) == "finished"
    path = tmp_path / "m.pt"
    save_checkpoint(run, path)
    back = load_checkpoint(path)
    assert back.kind == model and back.config == run.config
    assert back.classes == run.classes and back.scaling == InputScaling(0.1, 0.7)
    assert [e.to_dict() for e in back.history] == [e.to_dict() for e in run.history]
    for (k, v), (k2, v2) in zip(run.model.state_dict().items(), back.model.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)
    imgs = tiny_data.test_images[:5]
    assert torch.equal(back.classifier().logits(imgs), run.classifier().logits(imgs))
    assert back.status == "finished"


def test_continuing_from_a_checkpoint_equals_training_straight_through(tiny_data):
    straight = TrainingRun(default_config("softmax", epochs=4, batch_size=8, optimizer="adam", lr=0.01))
    straight.fit(tiny_data)
    half = TrainingRun(default_config("softmax", epochs=4, batch_size=8, optimizer="adam", lr=0.01))
    half.fit(tiny_data, epochs=2)
    resumed = load_checkpoint(checkpoint_bytes(half))
    assert resumed.status == "stopped"
    resumed.fit(tiny_data)
    assert torch.equal(resumed.model.linear.weight, straight.model.linear.weight)


@pytest.mark.parametrize("how", ["torch.save", "pickle-2", "pickle-5"])
def test_a_file_carrying_code_is_refused_and_nothing_runs(tmp_path, how):
    marker = tmp_path / "pwned"
    payload = {"format": "fmnist-lab-checkpoint", "version": 1, "config": evil(marker)}
    path = tmp_path / "evil.pt"
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=int(how[-1])))
    # Protocol 5 framing already stops the restricted reader before it reaches the code.
    expected = "not a checkpoint" if how == "pickle-5" else "Refused.*could run code"
    with pytest.raises(CheckpointError, match=expected):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=expected):
        load_checkpoint(path.read_bytes())
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "empty"),
        (b"hello, I am a text file\n", "not a checkpoint"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a checkpoint"),
        (b"PK\x03\x04" + b"\x00" * 64, "damaged or truncated"),
    ],
    ids=["empty", "text", "png", "broken-zip"],
)
def test_files_that_are_not_checkpoints_are_refused(tmp_path, content, fragment):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=fragment):
        load_checkpoint(path)


def test_truncated_checkpoint_is_refused(tiny_data):
    data = checkpoint_bytes(TrainingRun(default_config("softmax", epochs=1)))
    with pytest.raises(CheckpointError):
        load_checkpoint(data[: len(data) // 2])


def test_other_pytorch_files_are_refused(tmp_path):
    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(3)}, buf)
    with pytest.raises(CheckpointError, match="not a checkpoint of this app"):
        load_checkpoint(buf.getvalue())


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda d: d["state_dict"].update({"linear.weight": torch.zeros(10, 5)}), "damaged"),
        (lambda d: d["state_dict"].update({"linear.weight": torch.full((10, 784), float("nan"))}), "NaN"),
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.update(classes=["a", "b"]), "2 classes"),
        (lambda d: d["config"].update(lr=-1), "learning rate"),
        (lambda d: d.update(kind="cnn"), "disagree"),
        (lambda d: d.pop("scaling"), "damaged"),
    ],
    ids=["shape", "nan", "version", "classes", "config", "kind", "missing-key"],
)
def test_damaged_checkpoints_are_refused(change, fragment):
    d = checkpoint_dict(TrainingRun(default_config("softmax")))
    change(d)
    buf = io.BytesIO()
    torch.save(d, buf)
    with pytest.raises(CheckpointError, match=fragment):
        load_checkpoint(buf.getvalue())


def test_unreadable_path_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="Cannot read"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_is_a_zip_of_plain_data(tiny_data):
    data = checkpoint_bytes(TrainingRun(default_config("softmax")))
    assert zipfile.is_zipfile(io.BytesIO(data))
    assert len(data) < 200_000


def test_an_unusable_optimizer_state_does_not_lose_the_weights():
    run = TrainingRun(default_config("softmax", optimizer="adam"))
    d = checkpoint_dict(run)
    d["optimizer"] = {"state": {}, "param_groups": [{"lr": 0.001}]}  # torch.optim's layout, not ours
    buf = io.BytesIO()
    torch.save(d, buf)
    back = load_checkpoint(buf.getvalue())
    assert torch.equal(back.model.linear.weight, run.model.linear.weight)
    assert "optimizer state could not be used" in back.message
