"""fmnist_lib.images is torch-free: importing its modules (or the package fmnist_lib) never imports torch,
while the package's lazy re-exports still give every name they list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fmnist_lib

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> subprocess.CompletedProcess:
    # A fresh interpreter: this test process has long since imported torch.
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_image_modules_import_without_torch():
    done = _run(
        "import fmnist_lib.images.preprocess, fmnist_lib.images.decode, fmnist_lib.images.outline, "
        "fmnist_lib.images.deskew, fmnist_lib.images.image_header, sys; "
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:5]"
    )
    assert done.returncode == 0, done.stderr


def test_the_package_itself_imports_nothing_heavy():
    done = _run("import fmnist_lib, sys; assert 'torch' not in sys.modules")
    assert done.returncode == 0, done.stderr


def test_every_lazy_re_export_resolves_to_its_module():
    for name in fmnist_lib.__all__:
        value = getattr(fmnist_lib, name)
        module = fmnist_lib._EXPORTS[name]
        assert value is getattr(sys.modules[f"fmnist_lib.{module}"], name), name
    assert set(dir(fmnist_lib)) >= set(fmnist_lib.__all__)


def test_an_unknown_name_is_an_attribute_error():
    try:
        fmnist_lib.not_a_name  # noqa: B018
    except AttributeError as e:
        assert "not_a_name" in str(e)
    else:
        raise AssertionError("no AttributeError")
