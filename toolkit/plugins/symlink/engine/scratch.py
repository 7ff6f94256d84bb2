"""Scratch files without the ``tempfile`` module, which imports ``shutil`` and ``random``
and so zlib, bz2, lzma and a SHA-512: ~1 MiB in each process of a scan (issue 9's memory
goal sums them). Linux's ``O_TMPFILE`` gives a file without a name, gone when it is closed,
as ``tempfile.TemporaryFile`` does; where it cannot, ``tempfile`` is used after all."""
from __future__ import annotations

import os
from typing import IO, Any


def scratch_file(mode: str = "w+b", *, encoding: str | None = None) -> IO[Any]:
    folder = os.environ.get("TMPDIR") or os.environ.get("TEMP") or os.environ.get("TMP") or "/tmp"
    try:
        descriptor = os.open(folder, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (OSError, AttributeError):  # no such folder, a filesystem without it, not Linux
        import tempfile

        return tempfile.TemporaryFile(mode, encoding=encoding)
    return open(descriptor, mode, encoding=encoding)
