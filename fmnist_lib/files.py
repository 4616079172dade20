"""Read a user-named file safely: only a regular file, never more than a limit, never blocking.

A FIFO, a socket or a device (/dev/zero, a terminal) given as a file would block a read
forever or never end, so the path is opened non-blocking and refused unless it is a regular
file. Every failure becomes UnreadableFile with a sentence a user can act on.
"""

from __future__ import annotations

import os
import stat


class UnreadableFile(ValueError):
    """The file cannot be read; the message says why (callers wrap it in their own error)."""


_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


def read_regular_file(path: str | os.PathLike, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most max_bytes; UnreadableFile otherwise."""
    name = os.fspath(path)
    if ("\x00" if isinstance(name, str) else b"\x00") in name:
        raise UnreadableFile(f"The {what}'s name contains a NUL character, which no file name can hold.")
    try:
        # O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one.
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise UnreadableFile(f"Cannot read the {what} {name}: {e.strerror or e}.") from e
    try:
        st = os.fstat(fd)  # of what was opened: no race between a check and the open
        if not stat.S_ISREG(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise UnreadableFile(f"{name} is {kind}, not a regular file; only regular files are read.")
        if st.st_size > max_bytes:
            raise UnreadableFile(
                f"{name} is {st.st_size / 1e6:.1f} MB; the largest {what} accepted is {max_bytes / 1e6:.0f} MB."
            )
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # it grew while being read
                raise UnreadableFile(f"{name} is larger than the {max_bytes / 1e6:.0f} MB accepted.")
        return b"".join(chunks)
    except OSError as e:
        raise UnreadableFile(f"Cannot read the {what} {name}: {e.strerror or e}.") from e
    finally:
        os.close(fd)
