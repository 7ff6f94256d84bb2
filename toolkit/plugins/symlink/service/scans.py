"""What the API and the page do with scans: start, status, cancel, history, re-run, and the
task's side of starting one (:func:`plan_queued_scan`, :func:`scan_for_scheduled_job`).
Problems and ignores are in :mod:`.problems`, deletions in :mod:`.deletions`. They raise
:class:`toolkit.api.PluginError` with a clear message on bad input, and change nothing then.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from typing import Any

from sqlalchemy import delete, select

from toolkit.api import PluginError, Toolkit, find_job
from toolkit.api import gettext as _

from ..engine.checker import DEPTHS
from ..history import (ACTIVE_SCAN_STATES, KEEP_SCANS, STATISTICS_COLUMNS, SymlinkProblem,
                       SymlinkScan)
from ..schema import utcnow
from .common import off_loop, settings_of
from .deletions import deletion_summary
from .directories import expected_links
from .paths import overlaps, resolve_all
from .records import get_scan, reconcile_active, set_scan
from .reasons import reason_text

MODES = ("dry-run", "real")


def _start_lock(tk: Toolkit) -> asyncio.Lock:
    """At most one start at a time (per toolkit): the overlap check and the insert must not
    interleave."""
    lock = tk.services.get("symlink_start_lock")
    if lock is None:
        lock = tk.services["symlink_start_lock"] = asyncio.Lock()
    return lock


def validate_scan_request(data: dict) -> tuple[list[str], str, str]:
    paths, mode = data.get("paths"), data.get("mode", "dry-run")
    depth = data.get("verification_depth", data.get("depth", "basic"))
    fields = {}
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        fields["paths"] = _("choose at least one folder")
    if mode not in MODES:
        fields["mode"] = f"must be one of {', '.join(MODES)}"
    if depth not in DEPTHS:
        fields["verification_depth"] = f"must be one of {', '.join(DEPTHS)}"
    elif depth != "basic" and shutil.which("ffprobe") is None:
        fields["verification_depth"] = "ffprobe is not installed: only 'basic' is available"
    if depth == "deep" and shutil.which("ffmpeg") is None:
        fields["verification_depth"] = "ffmpeg is not installed: 'deep' is not available"
    if fields:
        raise PluginError(400, _("invalid scan request"), fields=fields)
    return paths, mode, depth


async def _insert_scan(tk: Toolkit, resolved: list[str], mode: str, depth: str,
                       job_id: str | None = None, schedule_name: str | None = None) -> SymlinkScan:
    """A new ``queued`` scan row; 409 when an active scan covers any of the same folders.
    Callers hold ``_start_lock(tk)`` so that the check and the insert do not interleave."""
    async with tk.sessions() as session:
        await reconcile_active(tk, session)
        active = (await session.execute(select(SymlinkScan).where(
            SymlinkScan.status.in_(ACTIVE_SCAN_STATES)))).scalars().all()
        for other in active:
            if overlaps(resolved, list(other.selected_paths or [])):
                raise PluginError(409, _("scan %(id)s is already running on these folders", id=other.id),
                               code="already_running", scan_id=other.id)
        scan = SymlinkScan(id=uuid.uuid4().hex[:16], job_id=job_id, scan_date=utcnow(), mode=mode,
                           selected_paths=resolved, verification_depth=depth, status="queued",
                           schedule_name=schedule_name, **{name: 0 for name in STATISTICS_COLUMNS}, problems_found=0)
        session.add(scan)
        await session.commit()
    return scan


async def start_scan(tk: Toolkit, data: dict, *, expected_links: int | None = None) -> SymlinkScan:
    paths, mode, depth = validate_scan_request(data)
    settings = await settings_of(tk)
    resolved, errors = await off_loop(resolve_all, settings.media_path, paths)
    if errors:
        raise PluginError(400, _("invalid scan paths"), fields={k: reason_text(v) for k, v in errors.items()})
    async with _start_lock(tk):
        scan = await _insert_scan(tk, resolved, mode, depth)
        try:
            job = await tk.runner.enqueue("symlink:scan", {
                "scan_id": scan.id, "paths": resolved, "mode": mode, "depth": depth,
                "workers": settings.max_workers, "small_files": settings.small_files,
                "expected_links": expected_links})
        except Exception:
            async with tk.sessions() as session:
                await session.execute(delete(SymlinkScan).where(SymlinkScan.id == scan.id))
                await session.commit()
            raise
        await set_scan(tk.sessions, scan.id, job_id=job.id)
        scan.job_id = job.id
    await rotate(tk)
    return scan


async def start_from(tk: Toolkit, data: dict) -> SymlinkScan:
    """:func:`start_scan` for the API and the page, with the folder picker's cached link
    counts as the expected total (a phase-1 progress bar)."""
    media = (await settings_of(tk)).media_path
    paths = data.get("paths") if isinstance(data.get("paths"), list) else []
    absolute = [p if os.path.isabs(p) else os.path.join(media, p) for p in paths if isinstance(p, str)]
    return await start_scan(tk, data, expected_links=expected_links(tk, absolute))


async def scan_for_scheduled_job(tk: Toolkit, job_id: str, params: dict,
                                 schedule: str | None = None) -> dict:
    """A scan started by a schedule (no scan row yet): validate its parameters like a
    request (default: a dry run of the whole media path) and record it, marked with the
    schedule's name. Returns the task's parameters."""
    settings = await settings_of(tk)
    data = {"paths": params.get("paths") or [settings.media_path],
            "mode": params.get("mode", "dry-run"), "verification_depth": params.get("depth", "basic")}
    paths, mode, depth = validate_scan_request(data)
    resolved, errors = await off_loop(resolve_all, settings.media_path, paths)
    if errors:
        raise PluginError(400, _("invalid scan paths") + ": " + "; ".join(map(reason_text, errors.values())))
    async with _start_lock(tk):
        scan = await _insert_scan(tk, resolved, mode, depth, job_id=job_id,
                                  schedule_name=schedule or "schedule")
    await rotate(tk)
    return {"scan_id": scan.id, "paths": resolved, "mode": mode, "depth": depth,
            "workers": settings.max_workers, "small_files": settings.small_files}


async def plan_queued_scan(tk: Toolkit, scan_id: str, job_id: str) -> dict:
    """The task's parameters for a scan recorded by :func:`start_scan`: its own folders,
    mode and depth, the folders resolved under the media path again now (a folder swapped
    for a link since, or a media path changed, stops the scan). Returns the task's
    parameters."""
    async with tk.sessions() as session:
        scan = await session.get(SymlinkScan, scan_id)
        # "running" too: a read in the meantime copies the job's state to its scan
        if scan is None or scan.status not in ("queued", "running") or scan.job_id not in (None, job_id):
            raise PluginError(409, f"scan {scan_id} is not a queued scan waiting for this job")
        selected, mode, depth = list(scan.selected_paths or []), scan.mode, scan.verification_depth
    settings = await settings_of(tk)
    resolved, errors = await off_loop(resolve_all, settings.media_path, selected)
    if errors or not resolved:
        message = "invalid scan paths: " + ("; ".join(errors.values()) or "none")
        await set_scan(tk.sessions, scan_id, status="error", error_message=message, finished_at=utcnow())
        raise PluginError(400, message)
    return {"scan_id": scan_id, "paths": resolved, "mode": mode, "depth": depth,
            "workers": settings.max_workers, "small_files": settings.small_files}


async def rotate(tk: Toolkit, keep: int = KEEP_SCANS) -> int:
    """The seed's rotation: keep the newest ``keep`` scans (one that is running, or whose
    deletion is running, is never removed); their problems go with them. The deletion journal is never touched."""
    async with tk.sessions() as session:
        older = (await session.execute(
            select(SymlinkScan.id, SymlinkScan.status, SymlinkScan.deletion_job_id)
            .order_by(SymlinkScan.scan_date.desc()).offset(keep))).all()
        old = []
        for scan_id, status, deletion_job_id in older:
            deleting = await find_job(tk, deletion_job_id)
            if status not in ACTIVE_SCAN_STATES and not (deleting and deleting.active):
                old.append(scan_id)
        if old:
            await session.execute(delete(SymlinkProblem).where(SymlinkProblem.scan_id.in_(old)))
            await session.execute(delete(SymlinkScan).where(SymlinkScan.id.in_(old)))
            await session.commit()
    return len(old)


async def scan_status(tk: Toolkit, scan_id: str) -> dict:
    scan, job = await get_scan(tk, scan_id, with_job=True)
    body = scan.as_dict()
    progress: dict[str, Any] = (job.progress or {}) if job is not None else {}
    finished = scan.status not in ACTIVE_SCAN_STATES
    fraction = 1.0 if scan.status == "completed" else progress.get("fraction")
    body.update({
        "progress": round(fraction * 100, 1) if fraction is not None else None,
        "phase": "done" if finished else progress.get("phase", "queued"),
        "eta": None if finished else progress.get("eta"),
        "message": progress.get("message", ""),
        "live": {"done": progress.get("done", 0), "total": progress.get("total"),
                 "rate": progress.get("rate"), "counters": progress.get("counters", {})},
    })
    if finished:
        body["deletion"] = await deletion_summary(tk, scan)
    return body


async def cancel_scan(tk: Toolkit, scan_id: str) -> dict:
    scan = await get_scan(tk, scan_id)
    if scan.status in ACTIVE_SCAN_STATES and scan.job_id:
        await tk.runner.cancel(scan.job_id)  # the scan's status follows its job's
    return await scan_status(tk, scan_id)


async def history(tk: Toolkit, limit: int = KEEP_SCANS) -> list[dict]:
    async with tk.sessions() as session:
        await reconcile_active(tk, session)
        rows = (await session.execute(select(SymlinkScan).order_by(
            SymlinkScan.scan_date.desc()).limit(limit))).scalars().all()
    return [row.as_dict() for row in rows]


async def rerun(tk: Toolkit, scan_id: str, mode: str | None = None) -> SymlinkScan:
    """Start a new scan with the same folders and depth, and the same mode unless given."""
    old = await get_scan(tk, scan_id)
    return await start_scan(tk, {"paths": list(old.selected_paths), "mode": mode or old.mode,
                                 "verification_depth": old.verification_depth})
