"""``symlink_verdicts``: the phase-2 verdict cache, keyed by the target's identity (path,
size, mtime) and depth, read and written with :mod:`sqlite3`.

A ``full`` or ``deep`` scan process opens it before its first probe: importing SQLAlchemy
for it cost ~0.22 s of CPU on the way to the first request (and its memory), for three
statements. The schema is the plugin's migrations' (``models.SymlinkVerdict``); times are
stored as in :mod:`.mount_memory`.
"""
from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from typing import Any

from .engine.probe import ProbeVerdict
from .schema import connect, database_file, stored, transaction, utcnow

_UPSERT = ("INSERT INTO symlink_verdicts (target, size, mtime_ns, depth, verdict, reason, checked_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (target, size, mtime_ns, depth) DO UPDATE SET "
           "verdict = excluded.verdict, reason = excluded.reason, checked_at = excluded.checked_at")


class SqlVerdictStore:
    """The engine's ``model.VerdictStore``; writes are batched and flushed by the scan.
    ``database``: the toolkit's database URL, or a SQLAlchemy engine on it."""

    def __init__(self, database: Any, *, batch_size: int = 500) -> None:
        self.path = database_file(database)
        self.batch_size = batch_size
        self._pending: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        # get() runs once per media link on a re-scan, from every phase-1 thread: one
        # connection for them all (a lookup takes ~0.02 ms; a connection per thread cost
        # each thread ~1 ms to open it and read the schema, a third of a 300-link re-scan)
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()

    def get(self, target: str, size: int, mtime_ns: int, depth: str, max_age_seconds: float) -> ProbeVerdict | None:
        # a deep verdict also answers a full scan
        depths = ("full", "deep") if depth == "full" else ("deep",)
        newest_allowed = utcnow() - timedelta(seconds=max_age_seconds)
        with self._reader_lock:
            if self._reader is None:
                self._reader = connect(self.path, check_same_thread=False)
            row = self._reader.execute(
                "SELECT verdict, reason FROM symlink_verdicts WHERE target = ? AND size = ? AND mtime_ns = ? "
                f"AND depth IN ({', '.join('?' * len(depths))}) AND checked_at >= ? "
                "ORDER BY checked_at DESC LIMIT 1",
                (target, size, mtime_ns, *depths, stored(newest_allowed))).fetchone()
        return ProbeVerdict(row[0], row[1]) if row else None

    def put(self, target: str, size: int, mtime_ns: int, depth: str, verdict: ProbeVerdict) -> None:
        with self._lock:
            self._pending.append((target, size, mtime_ns, depth, verdict.verdict, verdict.reason, stored(utcnow())))
            if len(self._pending) >= self.batch_size:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def prune(self, older_than_seconds: float) -> int:
        """Forget verdicts older than this (files that changed or left leave old rows)."""
        oldest_kept = stored(utcnow() - timedelta(seconds=older_than_seconds))
        with transaction(self.path) as connection:
            return connection.execute("DELETE FROM symlink_verdicts WHERE checked_at < ?", (oldest_kept,)).rowcount

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        with transaction(self.path) as connection:
            connection.executemany(_UPSERT, self._pending)
        self._pending = []
