"""The web side's tables, on the engine's ``Base`` (so they share the plugin's alembic branch).

- ``symlink_config``: the settings row (one column per :class:`SymlinkOwnSettings` field;
  the Sonarr/Radarr connections are the host's settings since ``symlink_0008``).
- ``symlink_scans``: one row per scan with the seed's statistics columns; only the last
  :data:`KEEP_SCANS` finished scans are kept (the seed's rotation).
- ``symlink_problems``: the problems a scan found, one row each (paginated and filtered by
  the page), and what a confirmed deletion did with each.
- ``symlink_ignores``: paths the user chose to ignore; they persist across scans.
- ``symlink_problem_lives``: one row per problem link (its path), across scans: its state
  (new, seen again, ignored, re-targeted, deleted, re-searched, fixed, coming back) and
  since when; never rotated (see :mod:`.service.lifecycle`).
- ``symlink_scan_trends``: a small aggregate row per finished scan, never rotated (the
  Dashboard's trend chart outlives the :data:`KEEP_SCANS` detailed scans).
- ``symlink_repair_follows``: one row per series/movie Sonarr/Radarr were asked to search
  after a deletion, followed in their history until repaired or still missing (see
  :mod:`.service.follow`).

The deletion journal (``symlink_deletions``) belongs to the engine and is never rotated.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, JSON,
                        String, Text)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base

KEEP_SCANS = 3
ACTIVE_SCAN_STATES = ("queued", "running", "cancelling")


class SymlinkConfig(Base):
    __tablename__ = "symlink_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_path: Mapped[str | None] = mapped_column(Text)
    max_workers: Mapped[int | None] = mapped_column(Integer)
    small_files: Mapped[str | None] = mapped_column(String(8))
    max_deletions: Mapped[int | None] = mapped_column(Integer)
    max_deletion_share: Mapped[float | None] = mapped_column(Float)
    repair_policy: Mapped[str | None] = mapped_column(String(16))
    path_mappings: Mapped[list | None] = mapped_column(JSON)
    scheduled_deletions: Mapped[bool | None] = mapped_column(Boolean)
    repair_missing_hours: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)


STATISTICS_COLUMNS = (
    "total_analyzed", "phase1_ok", "phase1_broken", "phase1_inaccessible", "phase1_small",
    "phase1_io_error", "phase2_analyzed", "phase2_corrupted", "files_deleted",
    "phase1_error", "phase1_unknown", "phase2_unknown",
)


class SymlinkScan(Base):
    __tablename__ = "symlink_scans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    scan_date: Mapped[datetime] = mapped_column(DateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    mode: Mapped[str] = mapped_column(String(8))  # dry-run | real
    selected_paths: Mapped[list] = mapped_column(JSON)
    verification_depth: Mapped[str] = mapped_column(String(8))  # basic | full | deep
    total_analyzed: Mapped[int] = mapped_column(Integer, default=0)
    phase1_ok: Mapped[int] = mapped_column(Integer, default=0)
    phase1_broken: Mapped[int] = mapped_column(Integer, default=0)
    phase1_inaccessible: Mapped[int] = mapped_column(Integer, default=0)
    phase1_small: Mapped[int] = mapped_column(Integer, default=0)
    phase1_io_error: Mapped[int] = mapped_column(Integer, default=0)
    phase2_analyzed: Mapped[int] = mapped_column(Integer, default=0)
    phase2_corrupted: Mapped[int] = mapped_column(Integer, default=0)
    files_deleted: Mapped[int] = mapped_column(Integer, default=0)
    phase1_error: Mapped[int] = mapped_column(Integer, default=0)
    phase1_unknown: Mapped[int] = mapped_column(Integer, default=0)
    phase2_unknown: Mapped[int] = mapped_column(Integer, default=0)
    problems_found: Mapped[int] = mapped_column(Integer, default=0)
    duration: Mapped[float | None] = mapped_column(Float)
    # queued, running, cancelling, completed, cancelled, error, interrupted
    status: Mapped[str] = mapped_column(String(16), index=True)
    # the engine's findings besides counters: mounts, stopped_reason, walk errors...
    results_json: Mapped[dict | None] = mapped_column(JSON)
    error_message: Mapped[str | None] = mapped_column(Text)
    deletion_job_id: Mapped[str | None] = mapped_column(String(32))
    # the schedule that started this scan (None: started by hand)
    schedule_name: Mapped[str | None] = mapped_column(String(200))

    def statistics(self) -> dict[str, int]:
        return {name: getattr(self, name) or 0 for name in STATISTICS_COLUMNS}

    def as_dict(self) -> dict:
        results = self.results_json or {}
        return {
            "scan_id": self.id, "job_id": self.job_id, "status": self.status, "mode": self.mode,
            "verification_depth": self.verification_depth,
            "selected_paths": list(self.selected_paths or []),
            "scan_date": _iso(self.scan_date), "finished_at": _iso(self.finished_at),
            "duration": self.duration, "statistics": self.statistics(),
            "problems_found": self.problems_found or 0,
            "stopped_reason": results.get("stopped_reason"),
            "mount_down": bool(results.get("mount_down")),
            "mounts": results.get("mounts", []),
            "walk_errors": results.get("walk_errors", []),
            "error": self.error_message, "deletion_job_id": self.deletion_job_id,
            "schedule_name": self.schedule_name, "scheduled": self.schedule_name is not None,
            "auto_delete": results.get("auto_delete"),
        }


class SymlinkProblem(Base):
    __tablename__ = "symlink_problems"
    __table_args__ = (Index("ix_symlink_problems_scan_status", "scan_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("symlink_scans.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    phase: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    ignored: Mapped[bool] = mapped_column(Boolean, default=False)
    # what a confirmed deletion did: deleted, skipped, failed, restored (None: untouched)
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    journal_id: Mapped[int | None] = mapped_column(Integer)

    def as_dict(self) -> dict:
        return {"id": self.id, "scan_id": self.scan_id, "path": self.path, "target": self.target,
                "status": self.status, "phase": self.phase, "size": self.size,
                "reason": self.reason, "ignored": self.ignored, "outcome": self.outcome,
                "outcome_reason": self.outcome_reason, "journal_id": self.journal_id}


class SymlinkIgnore(Base):
    __tablename__ = "symlink_ignores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str | None] = mapped_column(String(16))  # what it was when ignored
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    def as_dict(self) -> dict:
        return {"id": self.id, "path": self.path, "status": self.status, "note": self.note,
                "created_at": _iso(self.created_at)}


# a problem's life across scans (symlink_problem_lives.state)
LIFE_STATES = ("new", "seen", "back", "ignored", "retargeted", "deleted", "researched", "fixed")
# states in which the link is still a problem nobody acted on
OPEN_STATES = ("new", "seen", "back")


class SymlinkProblemLife(Base):
    __tablename__ = "symlink_problem_lives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # as last seen (BROKEN, SMALL_FILE...)
    # 2: found by ffprobe (CORRUPTED), so only a full/deep scan can say it is fixed
    phase: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    last_scan_id: Mapped[str | None] = mapped_column(String(32))
    state_changed_at: Mapped[datetime] = mapped_column(DateTime)
    fixed_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    # gone (a later scan did not find the link), healthy (found it fine), hand, recheck,
    # repaired (Sonarr/Radarr brought it back: see service/follow.py)
    fixed_how: Mapped[str | None] = mapped_column(String(16))
    times_back: Mapped[int] = mapped_column(Integer, default=0)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)  # last "re-check now"
    check_result: Mapped[str | None] = mapped_column(Text)

    def as_dict(self) -> dict:
        return {"id": self.id, "path": self.path, "target": self.target, "status": self.status,
                "phase": self.phase, "reason": self.reason, "state": self.state, "times_seen": self.times_seen,
                "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen),
                "last_scan_id": self.last_scan_id, "state_changed_at": _iso(self.state_changed_at),
                "fixed_at": _iso(self.fixed_at), "fixed_how": self.fixed_how,
                "times_back": self.times_back, "checked_at": _iso(self.checked_at),
                "check_result": self.check_result}


class SymlinkScanTrend(Base):
    __tablename__ = "symlink_scan_trends"

    scan_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scan_date: Mapped[datetime] = mapped_column(DateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # when the lives were updated from this scan: the next row counts the fixes after it
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    mode: Mapped[str] = mapped_column(String(8))
    depth: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))  # completed, error, cancelled...
    total_analyzed: Mapped[int] = mapped_column(Integer, default=0)
    problems_found: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict] = mapped_column(JSON)  # problems per status: {"BROKEN": 3, ...}
    new_problems: Mapped[int] = mapped_column(Integer, default=0)
    back_problems: Mapped[int] = mapped_column(Integer, default=0)
    # problems that became fixed since the previous scan (this scan, by hand, re-checks)
    fixed_problems: Mapped[int] = mapped_column(Integer, default=0)
    tracked_problems: Mapped[int] = mapped_column(Integer, default=0)  # lives after this scan
    resolved_problems: Mapped[int] = mapped_column(Integer, default=0)  # of them, fixed
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    repaired: Mapped[int] = mapped_column(Integer, default=0)  # searches asked of Sonarr/Radarr
    duration: Mapped[float | None] = mapped_column(Float)
    mount_health: Mapped[str] = mapped_column(String(16))  # healthy, degraded, down, none

    @property
    def resolution_rate(self) -> float | None:
        return self.resolved_problems / self.tracked_problems if self.tracked_problems else None

    def as_dict(self) -> dict:
        return {"scan_id": self.scan_id, "scan_date": _iso(self.scan_date),
                "finished_at": _iso(self.finished_at), "mode": self.mode, "depth": self.depth,
                "status": self.status, "total_analyzed": self.total_analyzed,
                "problems_found": self.problems_found, "counts": dict(self.counts or {}),
                "new_problems": self.new_problems, "back_problems": self.back_problems,
                "fixed_problems": self.fixed_problems, "tracked_problems": self.tracked_problems,
                "resolved_problems": self.resolved_problems, "resolution_rate": self.resolution_rate,
                "deleted": self.deleted, "repaired": self.repaired, "duration": self.duration,
                "mount_health": self.mount_health}


# a repair search's follow-up (symlink_repair_follows.state), in the order it moves
FOLLOW_STATES = ("searching", "grabbed", "imported", "repaired", "missing")


class SymlinkRepairFollow(Base):
    __tablename__ = "symlink_repair_follows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(32))  # the deletion job (None: the CLI)
    service: Mapped[str] = mapped_column(String(16))  # sonarr, radarr
    item_type: Mapped[str] = mapped_column(String(16))  # series, movie
    item_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    search_ids: Mapped[list] = mapped_column(JSON)  # the episodes / movie searched
    links: Mapped[list] = mapped_column(JSON)  # the deleted links (the problems' lives)
    requested_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    grabbed_at: Mapped[datetime | None] = mapped_column(DateTime)
    imported_at: Mapped[datetime | None] = mapped_column(DateTime)
    repaired_at: Mapped[datetime | None] = mapped_column(DateTime)
    missing_at: Mapped[datetime | None] = mapped_column(DateTime)
    new_paths: Mapped[list | None] = mapped_column(JSON)  # the imported files, as the toolkit sees them
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    check_error: Mapped[str | None] = mapped_column(Text)  # the last look's failure, else None
    notified: Mapped[str | None] = mapped_column(String(16))  # the outcome last notified

    def as_dict(self) -> dict:
        return {"id": self.id, "scan_id": self.scan_id, "job_id": self.job_id, "service": self.service,
                "item_type": self.item_type, "item_id": self.item_id, "title": self.title,
                "search_ids": list(self.search_ids or []), "links": list(self.links or []),
                "requested_at": _iso(self.requested_at), "state": self.state,
                "grabbed_at": _iso(self.grabbed_at), "imported_at": _iso(self.imported_at),
                "repaired_at": _iso(self.repaired_at), "missing_at": _iso(self.missing_at),
                "new_paths": list(self.new_paths or []), "checked_at": _iso(self.checked_at),
                "check_error": self.check_error, "notified": self.notified}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None
