"""fmnist_lib/files.py: only a regular file is read, never more than the limit, never blocking."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fmnist_lib.files import UnreadableFile, read_regular_file


def test_a_regular_file_is_read_whole(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 3000)
    assert read_regular_file(path, max_bytes=3000) == b"x" * 3000


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 2_000_001)
    with pytest.raises(UnreadableFile, match=r"big\.bin is 2\.0 MB; the largest checkpoint accepted is 2 MB"):
        read_regular_file(path, max_bytes=2_000_000, what="checkpoint")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile, match="is a FIFO"):
        read_regular_file(fifo, max_bytes=10)


@pytest.mark.parametrize("path, kind", [("/dev/zero", "a character device"), ("/", "a folder")])
def test_devices_and_folders_are_refused(path, kind):
    with pytest.raises(UnreadableFile, match=kind):
        read_regular_file(path, max_bytes=10)


def test_a_missing_file_and_a_nul_in_the_name(tmp_path):
    with pytest.raises(UnreadableFile, match="Cannot read the file .*No such file"):
        read_regular_file(tmp_path / "missing", max_bytes=10)
    with pytest.raises(UnreadableFile, match="NUL character"):
        read_regular_file("a\x00b", max_bytes=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="setpriv is Linux's")
def test_an_unreadable_file_says_permission_denied(tmp_path):
    """As root every file is readable: drop the capability that overrides permissions (see DEVELOPERS.md)."""
    path = tmp_path / "secret.bin"
    path.write_bytes(b"x")
    path.chmod(0)
    tmp_path.chmod(0o755)
    code = (
        "import sys; from fmnist_lib.files import read_regular_file, UnreadableFile\n"
        f"try: read_regular_file({str(path)!r}, 10)\n"
        "except UnreadableFile as e: print(e); sys.exit(3)\n"
    )
    drop = "-dac_override,-dac_read_search"
    cmd = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", sys.executable, "-c", code]
    if os.geteuid() != 0:
        cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=os.getcwd(), timeout=60)
    assert out.returncode == 3, out.stderr
    assert "Permission denied" in out.stdout
