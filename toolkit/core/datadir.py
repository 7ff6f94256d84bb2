"""Where the toolkit keeps its data: the data folder and the database URL.

Apart from :mod:`toolkit.core.db` so that reading the configuration imports no SQLAlchemy
(~0.25 s of CPU and ~35 MiB): a command-line run that never opens the database, such as a
plain symlink scan, starts without it. :mod:`toolkit.core.db` re-exports these names.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path


def data_dir() -> Path:
    return Path(os.environ.get("TOOLKIT_DATA_DIR", "./data"))


def _tighten(path: Path, mode: int) -> None:
    """Remove group/other access from a path we own (the database holds API keys)."""
    try:
        status = path.stat()
        if status.st_uid == os.getuid() and status.st_mode & 0o077:
            path.chmod(mode)
    except FileNotFoundError:
        pass
    except OSError as exc:  # e.g. a read-only bind mount: say so, do not stop
        logging.getLogger(__name__).warning("cannot restrict the access rights of %s: %s",
                                            path, exc)


def secure_data_dir(directory: Path) -> None:
    """The data folder: created, or narrowed to, owner-only (0700)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(directory, 0o700)


def database_url() -> str:
    """``TOOLKIT_DATABASE_URL`` or ``sqlite+aiosqlite:///<TOOLKIT_DATA_DIR>/toolkit.db``."""
    url = os.environ.get("TOOLKIT_DATABASE_URL")
    if url:
        return url
    directory = data_dir()
    secure_data_dir(directory)
    return f"sqlite+aiosqlite:///{directory.resolve() / 'toolkit.db'}"


def sync_url(url: str) -> str:
    """The same database for blocking code (alembic, worker threads)."""
    return url.replace("+aiosqlite", "")
