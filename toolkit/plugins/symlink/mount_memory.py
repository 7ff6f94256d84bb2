"""``symlink_known_mounts``: the FUSE / network mount points where scans saw targets
answering, read and written with :mod:`sqlite3`.

Every command-line scan reads it before the first link and writes it at the end. Through
SQLAlchemy that cost the scan process ~0.25 s of CPU and ~25 MiB for two statements, so
the table (schema: the plugin's migrations, see ``models.SymlinkKnownMount``) is read here
with the standard library. Times are stored as SQLAlchemy stores a naive ``DateTime`` on
SQLite (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), which also orders as text.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .schema import database_file, stored, transaction, utcnow

if TYPE_CHECKING:
    from .engine.mounts import MountHealth


class SqlMountMemory:
    """One not seen answering for ``forget_after_days`` is forgotten (a setup that moved its
    mount should not hold its old links UNKNOWN for ever). ``database``: the toolkit's
    database URL, or a SQLAlchemy engine on it."""

    def __init__(self, database: Any, *, forget_after_days: float = 180) -> None:
        self.path = database_file(database)
        self.forget_after = timedelta(days=forget_after_days)

    def known(self) -> dict[str, str]:
        oldest = stored(utcnow() - self.forget_after)
        with transaction(self.path) as connection:
            rows = connection.execute(
                "SELECT mount_point, fstype, last_seen_healthy FROM symlink_known_mounts "
                "WHERE last_seen_healthy >= ?", (oldest,)).fetchall()
        return {mount_point: f"{fstype} answering on {datetime.fromisoformat(seen):%Y-%m-%d %H:%M}"
                for mount_point, fstype, seen in rows}

    def remember(self, healthy: list[MountHealth]) -> None:
        if not healthy:
            return
        now = utcnow()
        with transaction(self.path) as connection:
            connection.executemany(
                "INSERT INTO symlink_known_mounts (mount_point, fstype, last_seen_healthy) VALUES (?, ?, ?) "
                "ON CONFLICT (mount_point) DO UPDATE SET fstype = excluded.fstype, "
                "last_seen_healthy = excluded.last_seen_healthy",
                [(h.mount_point, h.fstype, stored(now)) for h in healthy])
            connection.execute("DELETE FROM symlink_known_mounts WHERE last_seen_healthy < ?",
                               (stored(now - self.forget_after),))
