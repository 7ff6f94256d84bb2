"""The re-pointing journal (``symlink_retargets``) and the sizes lost files had, read with a
blocking SQLAlchemy engine from the worker thread that re-points (like the deletion journal,
every write is committed before it returns: a crash between the journal and the link leaves
a ``pending`` row naming both targets)."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..engine.retarget import JournalEntry
from ..models import SymlinkDeletion, SymlinkRetarget, SymlinkVerdict
from ..schema import utcnow


class SqlRetargetJournal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_pending(self, *, path: str, old_target: str, new_target: str, kind: str, batch: str,
                       scan_id: str | None) -> int:
        with self.engine.begin() as connection:
            return connection.execute(insert(SymlinkRetarget).values(
                path=path, old_target=old_target, new_target=new_target, kind=kind, batch=batch,
                scan_id=scan_id, state="pending", journaled_at=utcnow())).inserted_primary_key[0]

    def mark(self, entry_id: int, state: str, *, error: str | None = None) -> None:
        values: dict[str, object] = {"state": state, "error": error}
        if state == "retargeted":
            values["retargeted_at"] = utcnow()
        if state == "undone":
            values["undone_at"] = utcnow()
        with self.engine.begin() as connection:
            connection.execute(update(SymlinkRetarget).where(SymlinkRetarget.id == entry_id).values(**values))

    def undoable(self, *, ids: list[int] | None = None, batch: str | None = None) -> list[JournalEntry]:
        """The re-pointed links (state ``retargeted``) among ``ids`` or of ``batch``."""
        query = select(SymlinkRetarget).where(SymlinkRetarget.state == "retargeted").order_by(SymlinkRetarget.id)
        if ids:
            query = query.where(SymlinkRetarget.id.in_(ids))
        if batch:
            query = query.where(SymlinkRetarget.batch == batch)
        with Session(self.engine) as session:
            return [JournalEntry(row.id, row.path, row.old_target, row.new_target) for row in session.scalars(query)]


def known_sizes(engine: Engine, targets: Iterable[str]) -> dict[str, int]:
    """The size each lost target had when it was last seen: the phase-2 verdict cache (a
    probed file's identity) or the deletion journal (a link deleted before and restored)."""
    wanted = sorted(set(targets))
    sizes: dict[str, int] = {}
    with engine.connect() as connection:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for table in (SymlinkDeletion, SymlinkVerdict):
                rows = connection.execute(
                    select(table.target, func.max(table.size)).where(table.target.in_(chunk), table.size > 0)
                    .group_by(table.target))
                for target, size in rows:
                    sizes.setdefault(target, size)
    return sizes
