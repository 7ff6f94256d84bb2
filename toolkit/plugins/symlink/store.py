"""Blocking database access for the engine: the deletion journal (the verdict cache and the
mounts scans saw answering: :mod:`.verdicts` and :mod:`.mount_memory`, without SQLAlchemy).

It uses a synchronous SQLAlchemy engine on the toolkit's database (the engine runs in a
worker thread). :func:`open_database` upgrades the schema with the plugin's alembic
branch first, so what runs is the migration, not ``create_all``.
"""
from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from toolkit.api import create_engine_sync, database_url

from .models import SymlinkDeletion
from .schema import ensure_schema, utcnow


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
