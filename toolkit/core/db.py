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

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
BUSY_TIMEOUT_MS = 5000

# aiosqlite logs every statement with its parameters at DEBUG: they include API keys.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


def new_metadata() -> MetaData:
    """A MetaData with the project's naming convention; one per plugin."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def data_dir() -> Path:
    return Path(os.environ.get("TOOLKIT_DATA_DIR", "./data"))


def database_url() -> str:
    """``TOOLKIT_DATABASE_URL`` or ``sqlite+aiosqlite:///<TOOLKIT_DATA_DIR>/toolkit.db``."""
    url = os.environ.get("TOOLKIT_DATABASE_URL")
    if url:
        return url
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{directory.resolve() / 'toolkit.db'}"


def sync_url(url: str) -> str:
    """The same database for blocking code (alembic, worker threads)."""
    return url.replace("+aiosqlite", "")


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
    engine = create_async_engine(url or database_url())
    _install_pragmas(engine.sync_engine)
    return engine


def create_engine_sync(url: str | None = None) -> Engine:
    """A blocking engine on the same database, for code that runs in worker threads."""
    engine = create_engine(sync_url(url or database_url()))
    _install_pragmas(engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
