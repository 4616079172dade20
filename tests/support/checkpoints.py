"""Hostile checkpoint files: a pickle that runs a command when it is unpickled."""

from __future__ import annotations

import os


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil(marker) -> object:
    """An object whose unpickling runs `touch marker`: the file appearing proves code ran."""
    e = _Evil()
    e.marker = marker
    return e
