"""Deleting a scan's problems and undoing it: the deletable set and the token naming it,
what the page shows before a deletion, the confirmation, the scheduled scans' automatic
deletion, the journal and the restore. The deletion itself runs as ``symlink:delete``
(:mod:`.tasks`)."""
from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from sqlalchemy import case, func, select, update

from toolkit.api import PluginError, Toolkit, create_engine_sync, find_job, refresh_media_servers
from toolkit.api import gettext as _

from ..engine.checker import DELETABLE_STATUSES, UNKNOWN
from ..engine.guard import deletion_guard
from ..history import SymlinkProblem, SymlinkScan
from ..models import SymlinkDeletion
from ..settings import SymlinkOwnSettings
from .common import is_id, settings_of
from .lifecycle import record_many
from .records import get_scan, set_scan
from .reasons import reason_text

MAX_SELECTION = 5000  # hand-picked ids per confirmation ("all" has no limit)


def deletable_filter(scan_id: str):
    """The problems of a scan that a confirmed deletion may act on."""
    return (SymlinkProblem.scan_id == scan_id, SymlinkProblem.status.in_(DELETABLE_STATUSES),
            SymlinkProblem.ignored.is_(False), SymlinkProblem.outcome.is_(None))


def deletable_set_query(scan_id: str, ids: list[int] | None = None):
    """Count and fingerprint of a scan's deletable set (or of the deletable ones among
    ``ids``), computed by the database (no id list in memory, however many problems)."""
    query = select(func.count(), func.coalesce(func.sum(SymlinkProblem.id), 0),
                   func.coalesce(func.sum(SymlinkProblem.id * SymlinkProblem.id), 0),
                   func.coalesce(func.min(SymlinkProblem.id), 0),
                   func.coalesce(func.max(SymlinkProblem.id), 0)).where(*deletable_filter(scan_id))
    return query.where(SymlinkProblem.id.in_(ids)) if ids is not None else query


def selection_token(scan_id: str, row) -> str:
    """Names one result set (count, sum, sum of squares, bounds of its ids): a confirmation
    made on a page showing another set does not match."""
    return hashlib.sha256(f"{scan_id}:{':'.join(map(str, row))}".encode()).hexdigest()[:20]


async def _deletable_set(tk: Toolkit, scan_id: str, ids: list[int] | None = None) -> tuple[int, str]:
    """How many items of the scan (or of ``ids``) may be deleted, and the token naming
    exactly that set."""
    async with tk.sessions() as session:
        row = (await session.execute(deletable_set_query(scan_id, ids))).one()
    return row[0], selection_token(scan_id, row)


async def _deletable_among(tk: Toolkit, scan_id: str, ids: list[int]) -> set[int]:
    async with tk.sessions() as session:
        return set((await session.execute(select(SymlinkProblem.id).where(
            *deletable_filter(scan_id), SymlinkProblem.id.in_(ids)))).scalars())


def _why_not_deletable(scan: SymlinkScan, saved: int | None = None) -> str | None:
    """Why the scan's results cannot be deleted now (``None``: they can). ``saved``: how many
    of its problems are in the database (checked when given)."""
    if scan.mode != "real":
        return _("this was a dry run: re-run it in real mode to delete")
    if scan.status != "completed":
        return _("the scan is %(status)s: only a completed scan's results can be deleted", status=scan.status)
    if (scan.results_json or {}).get("mount_down"):
        return _("a mount was down during this scan: re-scan once it is healthy")
    if saved is not None and saved < (scan.problems_found or 0):
        # the scan's figures and status are written after its problems; a row missing here
        # means a writer that broke that order: never offer a list shorter than the scan's
        return _("the scan's results are still being saved: reload in a moment")
    return None


async def _left_out(session, scan_id: str) -> tuple[int, dict[str, int]]:
    """How many problems the scan saved, and those a deletion never touches: ``ignored``
    paths and ``kept`` (UNKNOWN, ERROR: cannot tell, so never deleted), not yet handled."""
    deletable = SymlinkProblem.status.in_(DELETABLE_STATUSES)
    unhandled = SymlinkProblem.outcome.is_(None)
    saved, ignored, kept = (await session.execute(select(
        func.count(),
        func.coalesce(func.sum(case((SymlinkProblem.ignored.is_(True) & unhandled, 1), else_=0)), 0),
        func.coalesce(func.sum(case((SymlinkProblem.ignored.is_(False) & ~deletable & unhandled, 1),
                                    else_=0)), 0),
    ).where(SymlinkProblem.scan_id == scan_id))).one()
    return saved, {"ignored": ignored, "kept": kept}


async def deletion_summary(tk: Toolkit, scan: SymlinkScan) -> dict:
    count, token = await _deletable_set(tk, scan.id) if scan.status == "completed" else (0, "")
    settings = await settings_of(tk)
    guard = deletion_guard(count, scan.total_analyzed or 0, max_count=settings.max_deletions,
                           max_share=settings.max_deletion_share)
    async with tk.sessions() as session:
        outcomes = dict((await session.execute(
            select(SymlinkProblem.outcome, func.count()).where(
                SymlinkProblem.scan_id == scan.id, SymlinkProblem.outcome.is_not(None))
            .group_by(SymlinkProblem.outcome))).all())
        saved, left_out = await _left_out(session, scan.id)
    job = await find_job(tk, scan.deletion_job_id)
    blocked = _why_not_deletable(scan, saved)
    return {"allowed": blocked is None, "blocked_reason": blocked, "left_out": left_out,
            "count": count if blocked is None else 0, "token": token,
            "needs_override": not guard.allowed, "guard_reason": guard.reason,
            "outcomes": outcomes, "running": bool(job and job.active), "job_id": scan.deletion_job_id}


async def confirm_delete(tk: Toolkit, scan_id: str, data: dict) -> dict:
    """Delete all (``{"all": true, "token": ...}``) or some (``{"ids": [...]}``) of a real-mode
    scan's deletable problems, after the user saw them. Runs as a ``symlink:delete`` job."""
    scan = await get_scan(tk, scan_id)
    async with tk.sessions() as session:
        saved = (await _left_out(session, scan_id))[0]
    why_not = _why_not_deletable(scan, saved)
    if why_not:
        raise PluginError(409, why_not, code="not_deletable")
    override = data.get("override") is True
    token: str | None = None
    if data.get("all") is True:
        count, token = await _deletable_set(tk, scan_id)
        if data.get("token") != token:
            raise PluginError(409, _("the results changed since this list was shown: review it again"),
                           code="stale_selection")
        chosen: list[int] | None = None
    else:
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids or not all(is_id(i) for i in ids):
            raise PluginError(400, _("give 'ids' (a list of problem ids) or 'all': true with its token"))
        if len(ids) > MAX_SELECTION:
            raise PluginError(400, _("select at most %(n)s items, or delete all with the token", n=MAX_SELECTION))
        stale = sorted(set(ids) - await _deletable_among(tk, scan_id, ids))
        if stale:
            raise PluginError(409, _("%(n)s selected item(s) are not deletable results of this scan (already "
                                 "handled, ignored, or from another scan)", n=len(stale)),
                           code="stale_selection", ids=stale[:50])
        chosen = sorted(set(ids))
        count, token = await _deletable_set(tk, scan_id, chosen)
    if count == 0:
        raise PluginError(409, _("nothing to delete in this scan"), code="nothing_to_delete")
    settings = await settings_of(tk)
    guard = deletion_guard(count, scan.total_analyzed or 0, max_count=settings.max_deletions,
                           max_share=settings.max_deletion_share, override=override)
    if not guard.allowed:
        raise PluginError(409, _("%(reason)s: confirm with the override to go ahead", reason=reason_text(guard.reason)),
                       code="mass_deletion")
    job = await _enqueue_deletion(tk, scan, settings, chosen, token, override=override)
    return {"scan_id": scan_id, "job_id": job.id, "count": count, "override": guard.reason}


async def check_deletion_allowed(tk: Toolkit, scan_id: str, problem_ids: list[int] | None,
                                 override: bool) -> None:
    """What the ``symlink:delete`` task checks when it starts, however it was started: a
    completed real-mode scan with no mount down, within the mass-deletion guard (unless
    the person passed it). Raises :class:`PluginError`; nothing is deleted then."""
    scan = await get_scan(tk, scan_id)
    why_not = _why_not_deletable(scan)
    if why_not:
        raise PluginError(409, _("%(reason)s: nothing was deleted", reason=why_not), code="not_deletable")
    count, _token = await _deletable_set(tk, scan_id, problem_ids)
    settings = await settings_of(tk)
    guard = deletion_guard(count, scan.total_analyzed or 0, max_count=settings.max_deletions,
                           max_share=settings.max_deletion_share, override=override)
    if not guard.allowed:
        raise PluginError(409, _("%(reason)s: nothing was deleted", reason=reason_text(guard.reason)), code="mass_deletion")


async def _enqueue_deletion(tk: Toolkit, scan: SymlinkScan, settings: SymlinkOwnSettings,
                            problem_ids: list[int] | None, token: str, *, override: bool = False):
    job = await tk.runner.enqueue("symlink:delete", {
        "scan_id": scan.id, "problem_ids": problem_ids, "token": token, "override": override,
        "paths": list(scan.selected_paths), "depth": scan.verification_depth,
        "small_files": settings.small_files})
    await set_scan(tk.sessions, scan.id, deletion_job_id=job.id)
    return job


async def auto_delete(tk: Toolkit, scan_id: str) -> dict:
    """After a scheduled real-mode scan: delete what it found, but only when the user opted
    in (``scheduled_deletions``), no mount was down or unanswering during the scan (no
    UNKNOWN item) and the mass-deletion limits hold. Otherwise nothing is deleted and the
    decision says why. The decision (``outcome``: started, nothing, off, guard) is kept in
    the scan's results; the deletion job then repairs as after a manual deletion."""
    settings = await settings_of(tk)
    scan = await get_scan(tk, scan_id)
    decision: dict[str, Any] = {"outcome": "guard", "count": 0, "job_id": None}
    count, token = await _deletable_set(tk, scan_id) if scan.status == "completed" else (0, "")
    decision["count"] = count
    async with tk.sessions() as session:
        unknown = (await session.execute(select(func.count()).select_from(SymlinkProblem).where(
            SymlinkProblem.scan_id == scan_id, SymlinkProblem.status == UNKNOWN,
            SymlinkProblem.ignored.is_(False)))).scalar_one()
    limits = deletion_guard(count, scan.total_analyzed or 0, max_count=settings.max_deletions,
                            max_share=settings.max_deletion_share)
    if not settings.scheduled_deletions:
        decision.update(outcome="off", reason="scheduled deletions are off in Settings: "
                                              "this real-mode scan only reported")
    elif (scan.results_json or {}).get("stopped_reason"):
        decision["reason"] = f"the scan stopped: {scan.results_json['stopped_reason']}"
    elif (scan.results_json or {}).get("mount_down"):
        decision["reason"] = "a mount was down during the scan"
    elif unknown:
        decision["reason"] = (f"{unknown} link(s) could not be checked (UNKNOWN: their mount "
                              "was down or did not answer)")
    elif not limits.allowed:
        decision["reason"] = f"mass-deletion limit: {limits.reason}"
    elif count == 0:
        decision.update(outcome="nothing", reason="nothing to delete")
    else:
        job = await _enqueue_deletion(tk, scan, settings, None, token)
        decision.update(outcome="started", reason=None, job_id=job.id)
    if decision["outcome"] == "guard":
        decision["reason"] += ": nothing was deleted"
    async with tk.sessions() as session:
        row = await session.get(SymlinkScan, scan_id)
        row.results_json = {**(row.results_json or {}), "auto_delete": decision}
        await session.commit()
    return decision


async def deletions_page(tk: Toolkit, *, state: str | None = "deleted", page: int = 1,
                         per_page: int = 50) -> dict:
    """The deletion journal, newest first (it outlives the scans' rotation)."""
    conditions = [SymlinkDeletion.state == state] if state else []
    async with tk.sessions() as session:
        total = (await session.execute(select(func.count()).select_from(SymlinkDeletion)
                                       .where(*conditions))).scalar_one()
        rows = (await session.execute(select(SymlinkDeletion).where(*conditions)
                                      .order_by(SymlinkDeletion.id.desc())
                                      .offset((page - 1) * per_page).limit(per_page))).scalars().all()
    iso = lambda d: d.isoformat() + "Z" if d else None  # noqa: E731
    return {"page": page, "per_page": per_page, "total": total,
            "pages": max((total + per_page - 1) // per_page, 1),
            "items": [{"journal_id": r.id, "scan_id": r.scan_id, "path": r.path, "target": r.target,
                       "status": r.status, "reason": r.reason, "size": r.size, "state": r.state,
                       "deleted_at": iso(r.deleted_at), "restored_at": iso(r.restored_at),
                       "error": r.error} for r in rows]}


def _restore_blocking(database_url: str, journal_ids: list[int] | None, scan_id: str | None,
                      media_path: str):
    from ..engine.deletion import restore
    from ..store import DeletionJournal

    engine = create_engine_sync(database_url)
    try:
        return restore(DeletionJournal(engine), ids=journal_ids, scan_id=scan_id, root=media_path)
    finally:
        engine.dispose()


async def restore_deleted(tk: Toolkit, data: dict) -> dict:
    ids, scan_id = data.get("journal_ids"), data.get("scan_id")
    if ids is not None and (not isinstance(ids, list) or not ids
                            or not all(is_id(i) for i in ids)):
        raise PluginError(400, _("journal_ids must be a non-empty list of integers"))
    if not ids and not (isinstance(scan_id, str) and scan_id):
        raise PluginError(400, _("give journal_ids or a scan_id to restore"))
    outcomes = await asyncio.to_thread(_restore_blocking, tk.config.database_url, ids,
                                       None if ids else scan_id, (await settings_of(tk)).media_path)
    restored = [o.journal_id for o in outcomes if o.outcome == "restored"]
    if restored:
        async with tk.sessions() as session:
            await session.execute(update(SymlinkProblem).where(SymlinkProblem.journal_id.in_(restored))
                                  .values(outcome="restored"))
    paths = [o.path for o in outcomes if o.outcome == "restored"]
    if paths:  # the link (still a problem) is back: an open problem again
        async with tk.sessions() as session:
            await record_many(session, paths, "seen")
            await session.commit()
    media_servers = await refresh_media_servers(tk, paths, update_type="Created") if paths else None
    return {"restored": len(restored), "media_servers": media_servers,
            "items": [{"journal_id": o.journal_id, "path": o.path, "target": o.target,
                       "outcome": o.outcome, "reason": o.reason} for o in outcomes]}
