"""fmnist_lib.data: the search order, the IDX checks and every failure, on tiny files the tests write."""

from __future__ import annotations

import gzip
import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fmnist_lib import data as data_mod
from fmnist_lib.data import (
    CLASSES,
    DataCorruptError,
    DataNotFoundError,
    FashionMNIST,
    load_fashion_mnist,
)
from tests.support.faults import full_disk, unprivileged

N_TRAIN, N_TEST = 6, 4


def idx_images(n: int, value: int = 7, rows: int = 28, cols: int = 28, magic: int = 0x803, count=None) -> bytes:
    header = struct.pack(">IIII", magic, n if count is None else count, rows, cols)
    return header + bytes([value]) * (n * rows * cols)


def idx_labels(labels: list[int], magic: int = 0x801, count=None) -> bytes:
    return struct.pack(">II", magic, len(labels) if count is None else count) + bytes(labels)


def write_dataset(folder: Path, gz: bool = False, layout: str = "flat", overrides: dict | None = None) -> Path:
    """Write the four tiny IDX files (train 6, test 4) into folder; `overrides` replaces a file's bytes."""
    files = {
        "train-images-idx3-ubyte": idx_images(N_TRAIN, value=1),
        "train-labels-idx1-ubyte": idx_labels([0, 1, 2, 3, 4, 9]),
        "t10k-images-idx3-ubyte": idx_images(N_TEST, value=2),
        "t10k-labels-idx1-ubyte": idx_labels([5, 6, 7, 8]),
    }
    files.update(overrides or {})
    target = folder / "FashionMNIST" / "raw" if layout == "torchvision" else folder
    target.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if gz:
            with gzip.open(target / f"{name}.gz", "wb") as f:
                f.write(content)
        else:
            (target / name).write_bytes(content)
    return folder


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real data anywhere: project and Debian folders point into tmp, downloads fail."""
    monkeypatch.setattr(data_mod, "PROJECT_DATA_DIR", tmp_path / "project-data")
    monkeypatch.setattr(data_mod, "DEBIAN_DATA_DIR", tmp_path / "debian")
    monkeypatch.delenv(data_mod.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(dest):
        raise OSError("network unreachable")

    monkeypatch.setattr(data_mod, "_download", no_network)
    return tmp_path


def load_tiny(folder=None, **kw) -> FashionMNIST:
    return load_fashion_mnist(folder, expected=(N_TRAIN, N_TEST), **kw)


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
@pytest.mark.parametrize("gz", [False, True])
def test_reads_raw_gz_and_torchvision_layouts(isolated, gz, layout):
    folder = write_dataset(isolated / "mine", gz=gz, layout=layout)
    ds = load_tiny(folder)
    assert ds.train_images.shape == (N_TRAIN, 28, 28) and ds.train_images.dtype == torch.uint8
    assert ds.test_images.shape == (N_TEST, 28, 28)
    assert ds.train_labels.dtype == torch.int64
    assert ds.train_labels.tolist() == [0, 1, 2, 3, 4, 9]
    assert ds.test_labels.tolist() == [5, 6, 7, 8]
    assert int(ds.train_images[0, 0, 0]) == 1 and int(ds.test_images[0, 0, 0]) == 2
    assert ds.classes == CLASSES
    assert ds.source == str(folder)


def test_gz_is_unpacked_once_beside_a_user_folder(isolated):
    folder = write_dataset(isolated / "mine", gz=True)
    load_tiny(folder)
    unpacked = folder / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    assert unpacked.is_file()
    first_mtime = unpacked.stat().st_mtime_ns
    load_tiny(folder)
    assert unpacked.stat().st_mtime_ns == first_mtime  # not unpacked again


def test_debian_gz_files_are_unpacked_into_the_project_folder_not_the_system_one(isolated):
    write_dataset(data_mod.DEBIAN_DATA_DIR, gz=True)
    ds = load_tiny()
    assert ds.source == str(data_mod.DEBIAN_DATA_DIR)
    assert (data_mod.PROJECT_DATA_DIR / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()
    assert not (data_mod.DEBIAN_DATA_DIR / "FashionMNIST").exists()


def test_search_order_env_then_project_then_debian(isolated, monkeypatch):
    write_dataset(data_mod.DEBIAN_DATA_DIR, gz=True)
    assert load_tiny().source == str(data_mod.DEBIAN_DATA_DIR)
    write_dataset(data_mod.PROJECT_DATA_DIR)
    assert load_tiny().source == str(data_mod.PROJECT_DATA_DIR)
    env_dir = write_dataset(isolated / "from-env")
    monkeypatch.setenv(data_mod.ENV_VAR, str(env_dir))
    assert load_tiny().source == str(env_dir)
    cli_dir = write_dataset(isolated / "from-cli")
    assert load_tiny(cli_dir).source == str(cli_dir)  # --data beats the environment variable


def test_download_is_the_last_resort(isolated, monkeypatch):
    calls = []

    def fake_download(dest):
        calls.append(dest)
        return write_dataset(dest)

    monkeypatch.setattr(data_mod, "_download", fake_download)
    ds = load_tiny()
    assert calls == [data_mod.PROJECT_DATA_DIR]
    assert ds.train_images.shape[0] == N_TRAIN


def test_nothing_found_says_where_it_looked_and_how_to_get_it(isolated, monkeypatch):
    monkeypatch.setenv(data_mod.ENV_VAR, str(isolated / "nowhere"))
    with pytest.raises(DataNotFoundError) as e:
        load_tiny()
    msg = str(e.value)
    assert str(isolated / "nowhere") in msg
    assert str(data_mod.PROJECT_DATA_DIR) in msg
    assert str(data_mod.DEBIAN_DATA_DIR) in msg
    assert "network unreachable" in msg  # the download was tried and its failure reported
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "internet access" in msg


def test_no_download_when_disabled(isolated, monkeypatch):
    monkeypatch.setattr(data_mod, "_download", lambda dest: pytest.fail("must not download"))
    with pytest.raises(DataNotFoundError, match="not attempted"):
        load_tiny(download=False)


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("train-images-idx3-ubyte", idx_images(N_TRAIN, magic=0x801), "magic number"),
        ("train-labels-idx1-ubyte", idx_labels([0] * N_TRAIN, magic=0x803), "magic number"),
        ("t10k-images-idx3-ubyte", idx_images(N_TEST)[:-100], "truncated"),
        ("t10k-labels-idx1-ubyte", idx_labels([1, 2]), "expected 4"),
        ("t10k-images-idx3-ubyte", idx_images(N_TEST, rows=32, cols=32), "32x32"),
        ("train-images-idx3-ubyte", b"\x00\x00", "too short"),
        ("train-labels-idx1-ubyte", idx_labels([0, 1, 2, 3, 4, 12]), "0 to 9"),
        ("train-images-idx3-ubyte", idx_images(N_TRAIN) + b"extra", "truncated or damaged"),
    ],
    ids=["images-magic", "labels-magic", "truncated", "wrong-count", "wrong-dims", "no-header", "label-range", "extra"],
)
def test_corrupt_files_are_refused_with_a_clear_message(isolated, name, content, fragment):
    folder = write_dataset(isolated / "mine", overrides={name: content})
    with pytest.raises(DataCorruptError) as e:
        load_tiny(folder)
    assert fragment in str(e.value)
    assert "apt-get install dataset-fashion-mnist" in str(e.value)


def test_images_and_labels_must_agree_when_counts_are_not_fixed(isolated):
    folder = write_dataset(isolated / "mine", overrides={"t10k-labels-idx1-ubyte": idx_labels([1, 2, 3])})
    with pytest.raises(DataCorruptError, match="4 images but 3 labels"):
        load_fashion_mnist(folder, expected=None)


def test_corrupt_gzip_is_refused(isolated):
    folder = write_dataset(isolated / "mine", gz=True)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b\x08 this is not really gzip")
    with pytest.raises(DataCorruptError, match="not a readable gzip file"):
        load_tiny(folder)
    assert not list((folder / "FashionMNIST" / "raw").glob("*.part"))  # no half-written file left behind


def test_real_counts_are_enforced_by_default(isolated):
    folder = write_dataset(isolated / "mine")
    with pytest.raises(DataCorruptError, match="expected 60000"):
        load_fashion_mnist(folder)


@pytest.mark.integration
def test_real_fashion_mnist(real_data):
    assert real_data.train_images.shape == (60_000, 28, 28)
    assert real_data.test_images.shape == (10_000, 28, 28)
    assert real_data.train_images.dtype == torch.uint8
    assert real_data.train_labels.dtype == torch.int64
    assert torch.bincount(real_data.train_labels).tolist() == [6000] * 10
    assert torch.bincount(real_data.test_labels).tolist() == [1000] * 10
    assert real_data.classes == tuple(
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    )
    # The known pixel mean of the training set (0.2860 on the [0, 1] scale).
    assert abs(real_data.train_images.float().mean().item() / 255 - 0.2860) < 0.001


def test_second_load_uses_the_tensor_cache_and_a_changed_file_invalidates_it(isolated):
    folder = write_dataset(isolated / "mine")
    first = load_tiny(folder)
    cache = folder / "FashionMNIST" / data_mod.CACHE_NAME
    assert cache.is_file()
    second = load_tiny(folder)
    assert torch.equal(first.train_images, second.train_images)
    assert torch.equal(first.test_labels, second.test_labels)
    # Change a label file (same size, newer): the cache must not hide the change.
    raw = folder / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    raw.write_bytes(idx_labels([1, 1, 1, 1]))
    os.utime(raw, ns=(raw.stat().st_atime_ns, raw.stat().st_mtime_ns + 10**9))
    assert load_tiny(folder).test_labels.tolist() == [1, 1, 1, 1]


def test_damaged_cache_is_ignored_and_rewritten(isolated):
    folder = write_dataset(isolated / "mine")
    load_tiny(folder)
    cache = folder / "FashionMNIST" / data_mod.CACHE_NAME
    cache.write_bytes(b"not a torch file")
    assert load_tiny(folder).train_labels.tolist() == [0, 1, 2, 3, 4, 9]
    assert cache.read_bytes() != b"not a torch file"


def test_a_cached_load_does_not_import_torchvision(isolated):
    folder = write_dataset(isolated / "mine")
    load_tiny(folder)  # writes the cache
    code = (
        "import sys\n"
        "from fmnist_lib.data import load_fashion_mnist\n"
        f"d = load_fashion_mnist({str(folder)!r}, expected=({N_TRAIN}, {N_TEST}), download=False)\n"
        "print(len(d.train_labels), 'torchvision' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(N_TRAIN), "False"]


_UNPACK_AT = """
import sys, time
from pathlib import Path
from fmnist_lib.data import _gunzip_once
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # all start unpacking at the same moment
for i in range(6):
    _gunzip_once(Path(sys.argv[1]), Path(sys.argv[2]) / str(i))
"""


def test_processes_unpacking_the_same_gz_file_at_once_all_succeed(tmp_path):
    """Each unpacks into a temporary file of its own and renames it into place (os.replace);
    with one shared temporary name the slower one found its file renamed away."""
    src = tmp_path / "train-images-idx3-ubyte.gz"
    content = idx_images(40_000, value=3)  # 31 MB unpacked (~30 KB packed): the unpacking overlaps
    with gzip.open(src, "wb", compresslevel=1) as f:
        f.write(content)
    start = f"{time.time() + 3.0}"  # after every process has imported torch
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _UNPACK_AT, str(src), str(tmp_path / "out"), start],
            cwd=data_mod.PROJECT_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(e[-1500:] for e in errors)
    for i in range(6):
        out = tmp_path / "out" / str(i)
        assert [p.name for p in out.iterdir()] == ["train-images-idx3-ubyte"]
        assert (out / "train-images-idx3-ubyte").read_bytes() == content


# --- faults: a folder this process may not read, a full disk, a named folder not used ------------

_LOAD = """
import sys
from fmnist_lib.data import DataError, load_fashion_mnist
try:
    load_fashion_mnist(sys.argv[1], download=False, expected=(6, 4))
except DataError as e:
    print(type(e).__name__, e, sep="\\n")
"""


@pytest.mark.parametrize("what", ["folder", "file"])
def test_data_this_process_may_not_read_is_a_clear_data_error(isolated, what):
    folder = write_dataset(isolated / "mine", gz=what == "file")
    target = folder if what == "folder" else folder / "t10k-labels-idx1-ubyte.gz"
    target.chmod(0o000)
    try:
        done = unprivileged([sys.executable, "-c", _LOAD, str(folder)])
    finally:
        target.chmod(0o755)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    kind, message = done.stdout.split("\n", 1)
    assert kind == "DataUnreadableError"
    assert f"could not be read from the folder you named (--data), {folder}: Permission denied" in message
    assert "What to do: let the user running this program read that folder" in message
    assert str(target) in message


def test_a_full_disk_while_unpacking_is_a_clear_data_error_and_leaves_nothing(isolated):
    with full_disk(isolated / "disk", size_kb=256) as disk:
        n = 40_000  # 31 MB unpacked, ~30 KB packed
        write_dataset(
            disk,
            gz=True,
            overrides={
                "train-images-idx3-ubyte": idx_images(n, value=3),
                "train-labels-idx1-ubyte": idx_labels([i % 10 for i in range(n)]),
            },
        )
        with pytest.raises(
            data_mod.DataUnreadableError,
            match=r"(?s)could not be unpacked from .*: No space left on device.*free some disk space",
        ):
            load_fashion_mnist(disk, download=False, expected=None)
        raw = disk / "FashionMNIST" / "raw"
        assert not [p.name for p in raw.iterdir()]  # no .part file left


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda d: None, "does not exist"),
        (lambda d: d.write_text("x"), "is not a folder"),
        (lambda d: d.mkdir(), "holds none of the four Fashion-MNIST files"),
        (
            lambda d: (write_dataset(d), (d / "t10k-labels-idx1-ubyte").unlink()),
            "lacks t10k-labels-idx1-ubyte\\[.gz\\]",
        ),
    ],
    ids=["missing", "a-file", "empty", "incomplete"],
)
def test_a_named_folder_without_the_data_is_reported_as_not_used(isolated, monkeypatch, make, why):
    write_dataset(data_mod.PROJECT_DATA_DIR)
    named = isolated / "named"
    make(named)
    monkeypatch.setenv(data_mod.ENV_VAR, str(named))
    ds = load_tiny()
    assert ds.source == str(data_mod.PROJECT_DATA_DIR)
    assert len(ds.notes) == 1
    assert re.fullmatch(rf"The folder you named \(\$FMNIST_DATA\), {named}, was not used: it {why}\.", ds.notes[0])
    monkeypatch.delenv(data_mod.ENV_VAR)
    assert load_tiny().notes == ()  # nothing named, nothing to report
