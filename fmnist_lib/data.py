"""Find, check and load Fashion-MNIST into memory as uint8 tensors.

Where the files are looked for, in order:

1. a folder the user names (``FMNIST_DATA`` or ``--data`` on the CLI);
2. the project's ``./data`` folder;
3. Debian's ``/usr/share/datasets/fashion-mnist`` (package ``dataset-fashion-mnist``);
4. torchvision's download (only works with internet access).

Each folder may hold the four IDX files raw, gzipped (``*.gz``, as Debian ships
them), or in torchvision's layout (``<folder>/FashionMNIST/raw/``). Gzipped
files are unpacked once into the project's data folder, and torchvision's
FashionMNIST reader reads the raw files. Its reader trusts the header, so every
file's magic number, dimensions, count and size are checked here first.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import secrets
import shutil
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import torch

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_DATA_DIR = PROJECT_ROOT / "data"
DEBIAN_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FMNIST_DATA"

# The dataset's own class names, in label order (torchvision's FashionMNIST.classes).
CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SIZE = 28
TRAIN_COUNT = 60_000
TEST_COUNT = 10_000

# IDX magic numbers: 0x08 = unsigned byte; the last byte is the number of dimensions.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}

HOW_TO_GET = (
    "How to get the data:\n"
    "  * on Debian or Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
    "    (it installs the files in /usr/share/datasets/fashion-mnist);\n"
    "  * or run once on a machine with internet access, and torchvision downloads them\n"
    f"    into {PROJECT_DATA_DIR};\n"
    "  * or copy the four files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],\n"
    "    t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) into a folder and point\n"
    f"    {ENV_VAR} (or --data) at it."
)


class DataError(RuntimeError):
    """The dataset could not be found or is damaged. The message says what to do."""


class DataNotFoundError(DataError):
    pass


class DataCorruptError(DataError):
    pass


class DataUnreadableError(DataError):
    """The files are there (or may be) but this process may not read or write them."""


@dataclass(frozen=True)
class FashionMNIST:
    """The whole dataset in memory.

    train_images: [60000, 28, 28] uint8, train_labels: [60000] int64,
    test_images: [10000, 28, 28] uint8, test_labels: [10000] int64.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    source: str  # the folder the files were read from, for the user to see
    notes: tuple[str, ...] = ()  # what the user should know: e.g. the folder they named was not used

    def __post_init__(self) -> None:
        # Shared read-only between sessions and runs: nobody may change it in place.
        for t in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            t.requires_grad_(False)


def _check_idx_header(path: Path, kind: str, expected_count: int | None) -> int:
    """Check an unpacked IDX file's header against its size; return its item count."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            header = f.read(16 if kind == "images" else 8)
    except OSError as e:
        raise DataCorruptError(f"Cannot read {path}: {e}.\n{HOW_TO_GET}") from e
    need = 16 if kind == "images" else 8
    if len(header) < need:
        raise DataCorruptError(f"{path} is truncated: {size} bytes, too short for an IDX header.\n{HOW_TO_GET}")
    magic, count = struct.unpack(">II", header[:8])
    want_magic = IMAGES_MAGIC if kind == "images" else LABELS_MAGIC
    if magic != want_magic:
        raise DataCorruptError(
            f"{path} is not an IDX {kind} file: magic number 0x{magic:08x}, expected 0x{want_magic:08x}.\n{HOW_TO_GET}"
        )
    item = 1
    if kind == "images":
        rows, cols = struct.unpack(">II", header[8:16])
        if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
            raise DataCorruptError(
                f"{path} holds {rows}x{cols} images; Fashion-MNIST's are {IMAGE_SIZE}x{IMAGE_SIZE}.\n{HOW_TO_GET}"
            )
        item = rows * cols
    if expected_count is not None and count != expected_count:
        raise DataCorruptError(f"{path} says it holds {count} {kind}; expected {expected_count}.\n{HOW_TO_GET}")
    want_size = need + count * item
    if size != want_size:
        raise DataCorruptError(
            f"{path} is {size} bytes but its header promises {count} {kind} "
            f"({want_size} bytes): the file is truncated or damaged.\n{HOW_TO_GET}"
        )
    return count


def _find_files_one(folder: Path, name: str) -> Path | None:
    """One IDX file in `folder` (raw, .gz or torchvision layout). Raises OSError (PermissionError)
    for a folder this process may not search: that is not the same as a missing file."""
    for candidate in (
        folder / name,
        folder / "FashionMNIST" / "raw" / name,
        folder / f"{name}.gz",
        folder / "FashionMNIST" / "raw" / f"{name}.gz",
    ):
        if candidate.is_file():
            return candidate
    return None


def _find_files(folder: Path) -> dict[tuple[str, str], Path] | None:
    """The four files in `folder`, or None if any is missing."""
    found = {}
    for key, name in FILES.items():
        if (path := _find_files_one(folder, name)) is None:
            return None
        found[key] = path
    return found


def _unpack_dir(folder: Path) -> Path:
    """Where unpacked copies go, in torchvision's layout: beside the files for a folder the
    user named, else the project's data folder, else a user cache (never a system folder)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fmnist_lib"
    roots = (PROJECT_DATA_DIR, cache) if folder == DEBIAN_DATA_DIR else (folder, PROJECT_DATA_DIR, cache)
    for root in roots:
        raw = root / "FashionMNIST" / "raw"
        try:
            raw.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(raw, os.W_OK):
            return raw
    raise DataCorruptError(
        f"The files in {folder} are compressed and there is nowhere writable to unpack them "
        f"(tried {folder}, {PROJECT_DATA_DIR} and {cache})."
    )


def _part_name(dest: Path) -> Path:
    """A temporary name beside dest, of this process and call only: two processes (two servers
    starting, `data` run twice) writing the same file never write into, or rename, each other's."""
    return dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.part")


def _gunzip_once(src: Path, dest_dir: Path) -> Path:
    dest = dest_dir / src.name[: -len(".gz")]
    if dest.is_file() and dest.stat().st_mtime >= src.stat().st_mtime:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = _part_name(dest)
    try:
        with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
            try:
                shutil.copyfileobj(fin, fout, 1 << 20)
            except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
                if isinstance(e, OSError) and e.filename is None and e.errno is not None:
                    raise  # the write failed (a full disk), not the gzip: below
                raise DataCorruptError(f"{src} is not a readable gzip file: {e}.\n{HOW_TO_GET}") from e
        os.replace(tmp, dest)  # atomic: a concurrent reader sees no file or the whole file
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _copy_once(src: Path, dest: Path) -> Path:
    if not dest.is_file() or dest.stat().st_mtime < src.stat().st_mtime:
        tmp = _part_name(dest)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
    return dest


def _read_split(raw_dir: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one split with torchvision's reader (the files are already checked)."""
    from torchvision.datasets import FashionMNIST as TVFashionMNIST

    ds = TVFashionMNIST(str(raw_dir.parent.parent), train=train, download=False)
    return ds.data, ds.targets


def _load_folder(folder: Path, expected: tuple[int, int] | None) -> FashionMNIST | None:
    files = _find_files(folder)
    if files is None:
        return None

    # torchvision reads <root>/FashionMNIST/raw/<name>: bring all four files there
    # unless they already are (unpacking a .gz once; copying a loose raw file).
    def in_tv_layout(p: Path) -> bool:
        return p.suffix != ".gz" and p.parent.name == "raw" and p.parent.parent.name == "FashionMNIST"

    if not (all(map(in_tv_layout, files.values())) and len({p.parent for p in files.values()}) == 1):
        raw = _unpack_dir(folder)
        for key, p in files.items():
            if p.suffix == ".gz":
                files[key] = _gunzip_once(p, raw)
            elif p.parent != raw:
                files[key] = _copy_once(p, raw / p.name)
    counts = {}
    for (split, kind), p in files.items():
        want = None if expected is None else expected[0 if split == "train" else 1]
        counts[(split, kind)] = _check_idx_header(p, kind, want)
    for split in ("train", "test"):
        if counts[(split, "images")] != counts[(split, "labels")]:
            raise DataCorruptError(
                f"The {split} split has {counts[(split, 'images')]} images but "
                f"{counts[(split, 'labels')]} labels in {folder}.\n{HOW_TO_GET}"
            )
    raw_dir = files[("train", "images")].parent
    tensors = _read_cache(raw_dir, files, counts)
    if tensors is None:
        try:
            tensors = (*_read_split(raw_dir, train=True), *_read_split(raw_dir, train=False))
        except (AssertionError, RuntimeError, ValueError, TypeError) as e:
            raise DataCorruptError(f"Could not read the IDX files in {raw_dir}: {e}.\n{HOW_TO_GET}") from e
        tensors = tuple(t.contiguous() for t in tensors)
        _write_cache(raw_dir, files, tensors)
    train_x, train_y, test_x, test_y = tensors
    for name, labels in (("train", train_y), ("test", test_y)):
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(CLASSES)):
            raise DataCorruptError(
                f"The {name} labels in {raw_dir} run from {int(labels.min())} to "
                f"{int(labels.max())}; Fashion-MNIST's are 0 to {len(CLASSES) - 1}.\n{HOW_TO_GET}"
            )
    return FashionMNIST(
        train_images=train_x,
        train_labels=train_y.to(torch.int64),
        test_images=test_x,
        test_labels=test_y.to(torch.int64),
        classes=CLASSES,
        source=str(folder),
    )


# A tensor copy of the four checked IDX files, written the first time torchvision's reader
# has read them. Later loads skip torchvision, whose import loads torch's compiler stack
# (seconds and memory of every cold start: README, "Measured"), and map the file instead of parsing it.
CACHE_NAME = "fmnist-uint8.pt"


def _cache_key(files: dict[tuple[str, str], Path]) -> list[list]:
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for _, p in sorted(files.items())]


def _read_cache(raw_dir: Path, files, counts: dict[tuple[str, str], int]) -> tuple[torch.Tensor, ...] | None:
    cache = raw_dir.parent / CACHE_NAME
    if not cache.is_file():
        return None
    try:
        obj = torch.load(cache, map_location="cpu", weights_only=True, mmap=True)
        if obj.get("key") != _cache_key(files):
            return None  # the IDX files changed since the cache was written
        tensors = tuple(obj[k] for k in ("train_images", "train_labels", "test_images", "test_labels"))
    except Exception:  # a damaged or foreign cache file: read the IDX files again
        return None
    order = (("train", "images"), ("train", "labels"), ("test", "images"), ("test", "labels"))
    shapes_ok = (
        tensors[0].dtype == tensors[2].dtype == torch.uint8
        and tuple(tensors[0].shape[1:]) == tuple(tensors[2].shape[1:]) == (IMAGE_SIZE, IMAGE_SIZE)
        and [len(t) for t in tensors] == [counts[k] for k in order]
    )
    return tensors if shapes_ok else None


def _write_cache(raw_dir: Path, files, tensors) -> None:
    cache = raw_dir.parent / CACHE_NAME
    tmp = _part_name(cache)
    names = ("train_images", "train_labels", "test_images", "test_labels")
    try:
        torch.save({"key": _cache_key(files), **dict(zip(names, tensors, strict=True))}, tmp)
        os.replace(tmp, cache)  # atomic: a concurrent reader sees the old file or the new one
    except (OSError, RuntimeError):  # read-only folder, full disk (torch's RuntimeError): no cache
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def candidate_folders(data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The folders searched, in order, each with a description for messages."""
    out: list[tuple[str, Path]] = []
    user = data_dir if data_dir is not None else os.environ.get(ENV_VAR) or None
    if user:
        how = "--data" if data_dir is not None else f"${ENV_VAR}"
        out.append((f"the folder you named ({how})", Path(user).expanduser()))
    out.append(("the project's data folder", PROJECT_DATA_DIR))
    out.append(("Debian's dataset-fashion-mnist location", DEBIAN_DATA_DIR))
    return out


def _download(dest: Path) -> Path:
    """torchvision's download, for machines with internet access. Returns the root it used."""
    from torchvision.datasets import FashionMNIST as TVFashionMNIST

    dest.mkdir(parents=True, exist_ok=True)
    TVFashionMNIST(str(dest), train=True, download=True)
    TVFashionMNIST(str(dest), train=False, download=True)
    return dest


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    expected: tuple[int, int] | None = (TRAIN_COUNT, TEST_COUNT),
) -> FashionMNIST:
    """Load Fashion-MNIST from the first folder that has it; download as a last resort.

    `expected` is the (train, test) image count each split must have; tests pass
    small counts or None to read the tiny files they write.
    Raises DataNotFoundError or DataCorruptError with what was tried and how to fix it.
    """
    tried, notes = [], []
    for i, (desc, folder) in enumerate(candidate_folders(data_dir)):
        ds = _load_or_explain(desc, folder, expected)
        if ds is not None:
            return replace(ds, notes=tuple(notes))
        why = _why_not_there(folder)
        tried.append(f"  * {desc}: {folder} - {why}")
        if i == 0 and desc.startswith("the folder you named"):
            notes.append(f"{desc[0].upper()}{desc[1:]}, {folder}, was not used: it {why}.")
    download_error = "not attempted"
    if download:
        try:
            ds = _load_or_explain("torchvision's download", _download(PROJECT_DATA_DIR), expected)
            if ds is not None:
                return replace(ds, notes=tuple(notes))
            download_error = "the download finished but left no files"
        except DataError:
            raise
        except Exception as e:  # any network failure: urllib, socket, ssl, checksum
            download_error = f"{type(e).__name__}: {e}".splitlines()[0][:300]
    tried.append(f"  * torchvision's download into {PROJECT_DATA_DIR}: {download_error}")
    raise DataNotFoundError(
        "Fashion-MNIST was not found. Looked for the four IDX files "
        "(raw or .gz, or in FashionMNIST/raw/) in:\n" + "\n".join(tried) + "\n" + HOW_TO_GET
    )


def _load_or_explain(desc: str, folder: Path, expected) -> FashionMNIST | None:
    """_load_folder, with any OSError (a folder or file this process may not read, a full disk
    while unpacking) turned into one DataError that says what, where and what to do."""
    try:
        return _load_folder(folder, expected)
    except OSError as e:
        where = e.filename or folder
        also = f" and {e.filename2}" if getattr(e, "filename2", None) else ""
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            what = "could not be unpacked"
            todo = f"free some disk space there, or copy the unpacked files into {folder}"
        else:
            what = "could not be read"
            todo = (
                f"let the user running this program read that folder and its files (for example chmod -R a+rX {folder})"
            )
        raise DataUnreadableError(
            f"Fashion-MNIST {what} from {desc}, {folder}: {e.strerror or e} ({where}{also}).\n"
            f"What to do: {todo}, or point {ENV_VAR} (or --data) at another folder.\n{HOW_TO_GET}"
        ) from e


def _why_not_there(folder: Path) -> str:
    """Why a folder held no Fashion-MNIST, in a few words (it may not exist, or lack files)."""
    try:
        if not folder.exists():
            return "does not exist"
        if not folder.is_dir():
            return "is not a folder"
        missing = [name for name in FILES.values() if not _find_files_one(folder, name)]
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if len(missing) == len(FILES):
        return "holds none of the four Fashion-MNIST files"
    return "lacks " + ", ".join(f"{m}[.gz]" for m in missing)


def locate(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder that holds the four files (unchecked), without downloading."""
    for _, folder in candidate_folders(data_dir):
        try:
            if _find_files(folder) is not None:
                return folder
        except OSError:
            continue
    return None
