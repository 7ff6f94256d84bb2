"""Database tables of the symlink plugin (all prefixed ``symlink_``).

The plugin owns its metadata (``metadata``) and its alembic branch ``symlink``
(``migrations/versions``). Other modules of the plugin add their tables to ``Base``.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from toolkit.api import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


metadata = Base.metadata


class SymlinkDeletion(Base):
    """The deletion journal: one row written *before* each unlink, updated after.

    ``status`` is the problem's status (BROKEN, SMALL_FILE...); ``state`` is the journal
    entry's life: pending (journaled, unlink not yet done), deleted, failed, skipped
    (re-check said keep), restored.
    """

    __tablename__ = "symlink_deletions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[str | None] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(Text, index=True)
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), index=True)
    journaled_at: Mapped[datetime] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    restored_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)


class SymlinkVerdict(Base):
    """Phase-2 verdict cache keyed by the target's identity (path, size, mtime) and depth."""

    __tablename__ = "symlink_verdicts"
    __table_args__ = (Index("ix_symlink_verdicts_identity", "target", "size", "mtime_ns", "depth", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    depth: Mapped[str] = mapped_column(String(8))
    verdict: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(DateTime)


class SymlinkKnownMount(Base):
    """A FUSE / network mount point where a scan saw targets answering. A later scan that
    finds it missing says "mount not visible" (UNKNOWN) instead of reporting every link
    under it BROKEN."""

    __tablename__ = "symlink_known_mounts"

    mount_point: Mapped[str] = mapped_column(Text, primary_key=True)
    fstype: Mapped[str] = mapped_column(String(64))
    last_seen_healthy: Mapped[datetime] = mapped_column(DateTime)


class SymlinkRetarget(Base):
    """The re-pointing journal: one row written *before* a link is pointed at a new target,
    updated after; undoing points it back at ``old_target``.

    ``kind``: proposal (a broken link's file found elsewhere) or prefix (a moved mount);
    ``batch``: the reviewed plan it applied; ``state``: pending, retargeted, failed,
    skipped (re-check said keep), undone.
    """

    __tablename__ = "symlink_retargets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(64), index=True)
    scan_id: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text, index=True)
    old_target: Mapped[str] = mapped_column(Text)
    new_target: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    journaled_at: Mapped[datetime] = mapped_column(DateTime)
    retargeted_at: Mapped[datetime | None] = mapped_column(DateTime)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
