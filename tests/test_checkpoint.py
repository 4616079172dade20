"""fmnist_lib.checkpoint: the round trip, and the refusal of anything else, above all of code."""

from __future__ import annotations

import io
import os
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
    expected = "Refused.*could run code"  # the pickle's opcodes are read, never run
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
        (b"PK\x03\x04" + b"\x00" * 64, "truncated or damaged"),
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
        (lambda d: d["state_dict"].update({"linear.weight": torch.zeros(10, 5)}), r"shape \[10, 5\]"),
        (lambda d: d["state_dict"].update({"linear.weight": torch.full((10, 784), float("nan"))}), "NaN"),
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.update(classes=["a", "b"]), "2 classes"),
        (lambda d: d["config"].update(lr=-1), "learning rate"),
        (lambda d: d.update(kind="cnn"), "disagree"),
        (lambda d: d.pop("scaling"), "lacks scaling"),
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


# --- the archive and the file, checked before torch.load reads anything -----------------------


def _softmax_bytes() -> bytes:
    return checkpoint_bytes(TrainingRun(default_config("softmax", epochs=1)))


def _entry_data_offset(data: bytes, name: str) -> int:
    """Where an entry's stored bytes start in the archive (after its local header)."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    return info.header_offset + 30 + name_len + extra_len


def _no_torch_load(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("torch.load must not be reached")

    monkeypatch.setattr(torch, "load", refuse)


def test_a_zip_bomb_is_refused_from_its_declared_sizes_before_torch_reads_it(monkeypatch):
    buf = io.BytesIO(_softmax_bytes())
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as z, z.open("archive/data/9", "w") as f:
        block = bytes(1 << 24)
        for _ in range(8):  # 128 MiB of zeros, deflated to ~130 KB
            f.write(block)
    bomb = buf.getvalue()
    assert len(bomb) < 1_000_000
    _no_torch_load(monkeypatch)
    with pytest.raises(CheckpointError, match=r"declares 134 MB once unpacked.*zip bomb"):
        load_checkpoint(bomb)


def test_a_compressed_entry_is_refused():
    buf = io.BytesIO(_softmax_bytes())
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/extra", b"x" * 100)
    with pytest.raises(CheckpointError, match="'archive/extra' is compressed"):
        load_checkpoint(buf.getvalue())


def test_a_flipped_byte_in_the_weights_fails_the_checksum(monkeypatch):
    data = bytearray(_softmax_bytes())
    data[_entry_data_offset(bytes(data), "archive/data/0") + 100] ^= 0x01  # one bit of one weight
    _no_torch_load(monkeypatch)
    with pytest.raises(CheckpointError, match="entry 'archive/data/0' fails its checksum"):
        load_checkpoint(bytes(data))


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_checkpoint_is_called_truncated(keep):
    data = _softmax_bytes()
    with pytest.raises(CheckpointError, match="truncated or damaged.*cut short"):
        load_checkpoint(data[: int(len(data) * keep)])


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.pt"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="is a FIFO.*only regular files are read"):
        load_checkpoint(fifo)  # would block forever if it were opened for a blocking read


def test_a_device_and_a_folder_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="character device"):
        load_checkpoint("/dev/zero")
    with pytest.raises(CheckpointError, match="a folder"):
        load_checkpoint(tmp_path)


def test_a_path_with_a_nul_is_a_checkpoint_error():
    with pytest.raises(CheckpointError, match="NUL character"):
        load_checkpoint("model\x00.pt")


def test_a_file_object_whose_read_fails_is_a_checkpoint_error():
    class Failing(io.RawIOBase):
        def read(self, n=-1):
            raise OSError(5, "Input/output error")

    with pytest.raises(CheckpointError, match="could not be read: .*Input/output error"):
        load_checkpoint(Failing())


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    big = tmp_path / "big.pt"
    with open(big, "wb") as f:
        f.truncate(60 * 1024 * 1024)  # sparse: no disk used
    _no_torch_load(monkeypatch)
    with pytest.raises(CheckpointError, match="62.9 MB; the largest checkpoint accepted is 52 MB"):
        load_checkpoint(big)


def test_the_loaded_message_does_not_say_loaded_twice_and_counts_its_epochs(tiny_data):
    """The Upload box says "Loaded **x.pt**." and then this: not "Loaded x: Loaded a checkpoint with 1 epochs"."""
    run = TrainingRun(default_config("softmax", epochs=2, batch_size=64))
    run.fit(tiny_data, epochs=1)
    message = load_checkpoint(checkpoint_bytes(run)).message
    assert message.startswith("A checkpoint with 1 epoch of training.") and "Loaded" not in message
