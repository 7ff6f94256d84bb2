"""Blocking database access for the engine: the deletion journal and the verdict cache
(the mounts scans saw answering: :mod:`.mount_memory`, without SQLAlchemy).

Both use a synchronous SQLAlchemy engine on the toolkit's database (the engine runs in a
worker thread). :func:`open_database` upgrades the schema with the plugin's alembic
branch first, so what runs is the migration, not ``create_all``.
"""
from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from toolkit.api import create_engine_sync, database_url

from .engine.probe import ProbeVerdict
from .models import SymlinkDeletion, SymlinkVerdict
from .schema import ensure_schema, sqlite_file, stored, utcnow


def open_database(url: str | None = None) -> Engine:
    """Upgrade the core and the symlink branch to their heads (see
    :func:`.schema.ensure_schema`); return a blocking engine."""
    return create_engine_sync(ensure_schema(url or database_url()))


class DeletionJournal:
    """Rows of ``symlink_deletions``; every write is committed before it returns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_pending(self, *, path: str, target: str, status: str, reason: str | None, size: int | None,
                       scan_id: str | None) -> int:
        with self.engine.begin() as connection:
            return connection.execute(
                insert(SymlinkDeletion).values(
                    path=path, target=target, status=status, reason=reason, size=size, scan_id=scan_id,
                    state="pending", journaled_at=utcnow(),
                )
            ).inserted_primary_key[0]

    def mark(self, entry_id: int, state: str, *, error: str | None = None) -> None:
        values: dict[str, object] = {"state": state, "error": error}
        if state == "deleted":
            values["deleted_at"] = utcnow()
        if state == "restored":
            values["restored_at"] = utcnow()
        with self.engine.begin() as connection:
            connection.execute(update(SymlinkDeletion).where(SymlinkDeletion.id == entry_id).values(**values))

    def entries(self, *, scan_id: str | None = None, states: tuple[str, ...] | None = None,
                ids: list[int] | None = None, path_prefix: str | None = None, limit: int | None = None
                ) -> list[SymlinkDeletion]:
        query = select(SymlinkDeletion).order_by(SymlinkDeletion.id)
        if scan_id:
            query = query.where(SymlinkDeletion.scan_id == scan_id)
        if states:
            query = query.where(SymlinkDeletion.state.in_(states))
        if ids:
            query = query.where(SymlinkDeletion.id.in_(ids))
        if path_prefix:
            query = query.where(SymlinkDeletion.path.startswith(path_prefix.rstrip("/") + "/", autoescape=True))
        if limit:
            query = query.limit(limit)
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query))


class SqlVerdictStore:
    """Phase-2 verdicts by target identity; writes are batched and flushed by the scan."""

    def __init__(self, engine: Engine, *, batch_size: int = 500) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self._pending: list[dict[str, object]] = []
        self._lock = threading.Lock()
        # get() runs once per media link on a re-scan, from every phase-1 thread: through
        # SQLAlchemy it cost ~0.56 ms of CPU per call (measured), most of a re-scan; with
        # sqlite3 and a connection per thread, ~0.02 ms. (Writes stay batched below.)
        try:
            self._file: str | None = sqlite_file(str(engine.url))
        except ValueError:
            self._file = None
        self._readers = threading.local()

    def get(self, target: str, size: int, mtime_ns: int, depth: str, max_age_seconds: float) -> ProbeVerdict | None:
        # a deep verdict also answers a full scan
        depths = ("full", "deep") if depth == "full" else ("deep",)
        newest_allowed = utcnow() - timedelta(seconds=max_age_seconds)
        if self._file is not None:
            row = self._reader().execute(
                "SELECT verdict, reason FROM symlink_verdicts WHERE target = ? AND size = ? AND mtime_ns = ? "
                f"AND depth IN ({', '.join('?' * len(depths))}) AND checked_at >= ? "
                "ORDER BY checked_at DESC LIMIT 1",
                (target, size, mtime_ns, *depths, stored(newest_allowed))).fetchone()
            return ProbeVerdict(row[0], row[1]) if row else None
        query = (
            select(SymlinkVerdict.verdict, SymlinkVerdict.reason)
            .where(and_(SymlinkVerdict.target == target, SymlinkVerdict.size == size,
                        SymlinkVerdict.mtime_ns == mtime_ns, SymlinkVerdict.depth.in_(depths),
                        SymlinkVerdict.checked_at >= newest_allowed))
            .order_by(SymlinkVerdict.checked_at.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return ProbeVerdict(row.verdict, row.reason) if row else None

    def _reader(self) -> sqlite3.Connection:
        connection = getattr(self._readers, "connection", None)
        if connection is None:
            # mode=rw: never create the database here; closed with its thread's locals
            connection = sqlite3.connect(f"file:{self._file}?mode=rw", uri=True, timeout=5.0,
                                         check_same_thread=False)
            self._readers.connection = connection
        return connection

    def put(self, target: str, size: int, mtime_ns: int, depth: str, verdict: ProbeVerdict) -> None:
        with self._lock:
            self._pending.append({"target": target, "size": size, "mtime_ns": mtime_ns, "depth": depth,
                                  "verdict": verdict.verdict, "reason": verdict.reason, "checked_at": utcnow()})
            if len(self._pending) >= self.batch_size:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def prune(self, older_than_seconds: float) -> int:
        """Forget verdicts older than this (files that changed or left leave old rows)."""
        oldest_kept = utcnow() - timedelta(seconds=older_than_seconds)
        with self.engine.begin() as connection:
            return connection.execute(delete(SymlinkVerdict).where(SymlinkVerdict.checked_at < oldest_kept)).rowcount

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(SymlinkVerdict)
        statement = statement.on_conflict_do_update(
            index_elements=["target", "size", "mtime_ns", "depth"],
            set_={"verdict": statement.excluded.verdict, "reason": statement.excluded.reason,
                  "checked_at": statement.excluded.checked_at},
        )
        with self.engine.begin() as connection:
            connection.execute(statement, self._pending)
        self._pending = []
