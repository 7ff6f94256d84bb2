"""The symlink tables' schema, checked without SQLAlchemy or alembic.

A command-line scan opens the toolkit's database for the mounts earlier scans saw (and the
verdict cache): upgrading it with alembic costs ~0.3 s of CPU and ~30 MiB before any link
is checked, for nothing when the database is already at its heads, which it is from the
second run on. So the heads are read from the migration scripts' text and compared with
``alembic_version`` through :mod:`sqlite3`; alembic runs only when they differ.
"""
from __future__ import annotations

import ast
import contextlib
import os
import re
import sqlite3
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_CORE_MIGRATIONS = Path(__file__).resolve().parents[2] / "core" / "migrations" / "versions"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def ensure_schema(url: str) -> str:
    """Upgrade the core and the symlink branch of the database at ``url`` to their heads
    unless they are there already; return ``url``."""
    if not _schema_is_current(url):
        from toolkit.api import upgrade_database_at

        upgrade_database_at(url, [symlink_models()])
    return url


def symlink_models():
    """The plugin's tables and its alembic branch (what ``toolkit_register_models`` returns).
    Here, next to :data:`MIGRATIONS`, so that neither this module nor ``store`` imports the
    other both ways; SQLAlchemy is imported only when it is called."""
    from toolkit.api import Models

    from .models import metadata

    return Models(metadata=metadata, migrations=MIGRATIONS)


def utcnow() -> datetime:
    """Now in UTC, naive: how the symlink tables store times (the one copy the plugin uses:
    toolkit.api.utcnow is aware, which sqlite3 would write with an offset in mount_memory's
    raw SQL, and an aware value would print as "...+00:00Z" in the tables' JSON)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def stored(moment: datetime) -> str:
    """A naive UTC time as SQLAlchemy stores a ``DateTime`` on SQLite (orders as text)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


BUSY_TIMEOUT_SECONDS = 5.0  # as the toolkit's engines (the web app may be writing)


def database_file(database: Any) -> str:
    """The SQLite file of ``database``: the toolkit's database URL, or a SQLAlchemy engine on it."""
    return sqlite_file(database if isinstance(database, str) else str(database.url))


def connect(path: str, **options: Any) -> sqlite3.Connection:
    """A connection to the database file ``path``, never creating it (``mode=rw``: the toolkit
    creates it owner-only)."""
    return sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_SECONDS, **options)


@contextlib.contextmanager
def transaction(path: str) -> Iterator[sqlite3.Connection]:
    """One transaction on the database file ``path``, committed on success."""
    connection = connect(path)
    try:
        with connection:
            yield connection
    finally:
        connection.close()


def sqlite_file(url: str) -> str:
    """The file of an ``sqlite`` database URL (``sqlite:///path``, ``sqlite+aiosqlite:///path``)."""
    prefix, _, path = url.partition(":///")
    if prefix.split("+")[0] != "sqlite" or not path or path == ":memory:":
        raise ValueError(f"not an SQLite database file: {url}")
    return path


def _script_heads(directories: list[Path]) -> set[str]:
    """The head revisions of the migration scripts in ``directories`` (read as text)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for directory in directories:
        for script in directory.glob("*.py"):
            assigned = dict(_ASSIGNMENT.findall(script.read_text(encoding="utf-8")))
            if "revision" not in assigned:
                continue
            revisions.add(ast.literal_eval(assigned["revision"]))
            down = ast.literal_eval(assigned.get("down_revision", "None"))
            parents.update(down if isinstance(down, tuple) else [down] if down else [])
    return revisions - parents


def _schema_is_current(url: str) -> bool:
    """An SQLite database whose ``alembic_version`` holds the core's and the symlink
    branch's heads (other plugins' heads may be there too)."""
    try:
        path = sqlite_file(url)
    except ValueError:
        return False
    if not os.path.exists(path):
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            recorded = {row[0] for row in connection.execute("SELECT version_num FROM alembic_version")}
        return _script_heads([_CORE_MIGRATIONS, MIGRATIONS]) <= recorded
    except (sqlite3.Error, OSError, ValueError, SyntaxError):
        return False
