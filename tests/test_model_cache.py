"""fmnist_lib.model_cache: train once, load on later starts; never use a stale or damaged file."""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import pytest
import torch

from fmnist_lib import TrainingRun, default_config
from fmnist_lib import model_cache as mc
from tests.support.checkpoints import evil
from tests.support.data import make_tiny_data
from tests.support.faults import full_disk, unprivileged

CONFIG = default_config("softmax", epochs=2, batch_size=16)


def _same_weights(a: TrainingRun, b: TrainingRun) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_first_call_trains_and_saves_the_next_loads_the_same_run(tiny_data, tmp_path):
    run, path, trained_now = mc.fit_or_load(CONFIG, tiny_data, tmp_path, test_every_epoch=False)
    assert trained_now and run.status == "finished" and run.epochs_done == 2
    assert run.message.startswith("Trained now and saved as softmax-")
    saved = list(tmp_path.glob("softmax-*.pt"))
    assert saved == [path] and not list(tmp_path.glob(".*.part"))

    again, loaded_from, trained_now = mc.fit_or_load(CONFIG, tiny_data, tmp_path)
    assert not trained_now and loaded_from == path
    assert _same_weights(run, again)
    assert [e.to_dict() for e in again.history] == [e.to_dict() for e in run.history]
    assert again.history[0].test_acc is None and again.test_acc == run.test_acc  # only the last epoch was tested
    assert again.config == CONFIG and again.scaling == run.scaling and again.status == "finished"
    assert "Loaded from" in again.message


def test_the_loaded_run_equals_one_trained_without_a_cache(tiny_data, tmp_path):
    mc.fit_or_load(CONFIG, tiny_data, tmp_path)
    loaded = mc.fit_or_load(CONFIG, tiny_data, tmp_path).run
    fresh, path, trained_now = mc.fit_or_load(CONFIG, tiny_data, None)
    assert trained_now and path is None and _same_weights(loaded, fresh)


@pytest.mark.parametrize("change", ["seed", "lr", "epochs"])
def test_other_settings_do_not_use_the_saved_run(tiny_data, tmp_path, change):
    mc.fit_or_load(CONFIG, tiny_data, tmp_path)
    other = replace(CONFIG, **{change: {"seed": 1, "lr": 0.05, "epochs": 3}[change]})
    run, _, trained_now = mc.fit_or_load(other, tiny_data, tmp_path)
    assert trained_now and run.config == other
    assert len(list(tmp_path.glob("softmax-*.pt"))) == 2


def test_other_data_does_not_use_the_saved_run(tmp_path):
    a, b = make_tiny_data(seed=0), make_tiny_data(seed=1)
    assert mc.data_fingerprint(a) != mc.data_fingerprint(b)
    assert mc.data_fingerprint(a) == mc.data_fingerprint(make_tiny_data(seed=0))
    mc.fit_or_load(CONFIG, a, tmp_path)
    assert mc.fit_or_load(CONFIG, b, tmp_path).trained_now


def test_a_change_to_the_training_code_changes_the_key(tiny_data, monkeypatch):
    before = mc.cache_key(CONFIG, tiny_data)
    monkeypatch.setattr(torch, "__version__", "0.0-other")
    assert mc.cache_key(CONFIG, tiny_data) != before


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04 cut short"])
def test_a_damaged_file_is_trained_again_and_replaced(tiny_data, tmp_path, content):
    path = mc.cache_path(CONFIG, tiny_data, tmp_path)
    path.write_bytes(content)
    run, saved, trained_now = mc.fit_or_load(CONFIG, tiny_data, tmp_path)
    assert trained_now and saved == path and run.status == "finished"
    _, loaded_from, trained_now = mc.fit_or_load(CONFIG, tiny_data, tmp_path)
    assert not trained_now and loaded_from == path


def test_a_file_carrying_code_in_its_place_is_not_run_but_replaced(tiny_data, tmp_path):
    """Someone who can write to data/models cannot make the server run code: the file is read
    with the checkpoint loader (torch.load(weights_only=True)), refused, and trained again."""
    marker = tmp_path / "pwned"
    path = mc.cache_path(CONFIG, tiny_data, tmp_path)
    torch.save({"format": "fmnist-lab-checkpoint", "version": 1, "config": evil(marker)}, path)
    run, saved, trained_now = mc.fit_or_load(CONFIG, tiny_data, tmp_path)
    assert trained_now and saved == path and run.status == "finished"
    assert not marker.exists()
    assert not mc.fit_or_load(CONFIG, tiny_data, tmp_path).trained_now  # the replacement is a real one


def test_a_folder_that_cannot_be_written_only_means_no_cache(tiny_data, tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    run, path, trained_now = mc.fit_or_load(CONFIG, tiny_data, blocker / "models")
    assert trained_now and path is None and run.status == "finished"
    assert "could not be saved" in run.message


def test_a_diverged_run_is_not_saved(tiny_data, tmp_path):
    wild = replace(CONFIG, lr=1e6)
    run, path, _ = mc.fit_or_load(wild, tiny_data, tmp_path)
    assert run.status == "diverged" and path is None
    assert not list(tmp_path.glob("*.pt"))


@pytest.mark.parametrize(
    ("value", "expected"), [("", mc.DEFAULT_DIR), ("off", None), ("OFF", None), ("/tmp/x", "/tmp/x")]
)
def test_cache_dir_follows_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(mc.ENV_VAR, value)
    got = mc.cache_dir()
    assert (got if got is None else os.fspath(got)) == (expected if expected is None else os.fspath(expected))


def test_only_the_newest_saved_runs_of_a_kind_are_kept(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr(mc, "KEEP_PER_KIND", 2)
    other_kind = tmp_path / "cnn-0123.pt"
    other_kind.write_bytes(b"x")
    paths = []
    for seed in range(3):
        config = replace(CONFIG, epochs=1, seed=seed)
        mc.fit_or_load(config, tiny_data, tmp_path)
        paths.append(mc.cache_path(config, tiny_data, tmp_path))
        os.utime(paths[-1], ns=(seed * 10**9, seed * 10**9))  # distinct, increasing ages
    assert [p.is_file() for p in paths] == [False, True, True]
    assert other_kind.is_file()


# --- a folder that cannot be written: no saving, a message, nothing left behind -----------------


def test_a_full_disk_means_no_saving_and_leaves_no_partial_file(tiny_data, tmp_path):
    with full_disk(tmp_path / "disk", size_kb=16) as disk:  # a softmax checkpoint is ~40 KB
        run, path, trained_now = mc.fit_or_load(CONFIG, tiny_data, disk)
        assert trained_now and path is None and run.status == "finished"
        assert "could not be saved" in run.message and "No space left on device" in run.message
        assert os.listdir(disk) == []  # no .part file, no half checkpoint


def test_a_runtime_error_from_torch_save_means_no_saving(tiny_data, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1408 vs 1366")

    monkeypatch.setattr(torch, "save", full)
    run, path, _ = mc.fit_or_load(CONFIG, tiny_data, tmp_path)
    assert path is None and "could not be saved" in run.message
    assert os.listdir(tmp_path) == []


_FIT_IN = """
import sys
from fmnist_lib import default_config, model_cache as mc
from tests.support.data import make_tiny_data
run, path, _ = mc.fit_or_load(default_config("softmax", epochs=1, batch_size=16), make_tiny_data(), sys.argv[1])
print(path, "|", run.status, "|", run.message)
"""


@pytest.mark.parametrize("mode", [0o555, 0o000], ids=["read-only", "no-access"])
def test_a_folder_this_process_may_not_write_means_no_saving(tmp_path, mode):
    folder = tmp_path / "models"
    folder.mkdir()
    folder.chmod(mode)
    try:
        done = unprivileged([sys.executable, "-c", _FIT_IN, str(folder)])
    finally:
        folder.chmod(0o755)
    assert done.returncode == 0, done.stderr
    path, status, message = done.stdout.strip().split(" | ")
    assert path == "None" and status == "finished"
    assert "could not be saved" in message and "Permission denied" in message
    assert os.listdir(folder) == []
