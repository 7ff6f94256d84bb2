"""Async SQLAlchemy engine, sessions and per-plugin metadata.

Every connection gets WAL, foreign keys and a busy timeout (SQLAlchemy's sqlite dialect
docs: set pragmas in a ``connect`` listener). Each plugin owns a ``MetaData`` built by
:func:`new_metadata` so that constraint names are stable and alembic batch mode works.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

# where the database is: kept free of SQLAlchemy for the command line (re-exported here)
from toolkit.core.datadir import _tighten, data_dir, database_url, secure_data_dir, sync_url  # noqa: F401

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
BUSY_TIMEOUT_MS = 5000
MAX_ID = 2**63 - 1  # SQLite's INTEGER: the largest row id

# aiosqlite logs every statement with its parameters at DEBUG: they include API keys.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


def new_metadata() -> MetaData:
    """A MetaData with the project's naming convention; one per plugin."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite`` URL; None for memory or other databases."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def secure_database_file(url: str) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does (with the umask, often
    0644), and narrow an existing one; SQLite gives its -wal/-shm files the same mode."""
    path = sqlite_path(url)
    if path is None or not path.parent.is_dir():
        return
    try:
        # O_EXCL: never open a database that exists: closing any descriptor of the file
        # would drop this process's SQLite locks on it
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # SQLite reports the real problem itself
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        _tighten(file, 0o600)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _install_pragmas(sync_engine: Engine) -> None:
    if sync_engine.dialect.name == "sqlite":
        event.listen(sync_engine, "connect", _sqlite_pragmas)


def create_engine_async(url: str | None = None) -> AsyncEngine:
    url = url or database_url()
    secure_database_file(url)
    engine = create_async_engine(url)
    _install_pragmas(engine.sync_engine)
    return engine


def create_engine_sync(url: str | None = None) -> Engine:
    """A blocking engine on the same database, for code that runs in worker threads."""
    url = sync_url(url or database_url())
    secure_database_file(url)
    engine = create_engine(url)
    _install_pragmas(engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
