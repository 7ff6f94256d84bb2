"""What the API and the page do with scans: start, status, cancel, history, problems, ignore,
confirm-and-delete, restore, re-run. Both front ends call these; they raise
:class:`toolkit.web.errors.ApiError` with a clear message on bad input, and change nothing then.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from typing import Any

from sqlalchemy import delete, func, select, update

from toolkit.api import refresh_media_servers
from toolkit.core.jobs import ACTIVE_STATES, JobNotFound
from toolkit.core.runtime import Toolkit
from toolkit.web.errors import ApiError
from toolkit.web.i18n import gettext as _
from toolkit.core.db import MAX_ID

from ..engine.checker import DEPTHS
from ..history import (ACTIVE_SCAN_STATES, KEEP_SCANS, STATISTICS_COLUMNS, SymlinkIgnore,
                      SymlinkProblem, SymlinkScan, utcnow)
from ..settings import SymlinkSettings
from .lifecycle import record_many, record_problem_event
from .tasks import deletable_filter, deletable_set_query, selection_token

NAMESPACE = "symlink"
MODES = ("dry-run", "real")
PROBLEM_FILTERS = ("BROKEN", "INACCESSIBLE", "SMALL_FILE", "IO_ERROR", "CORRUPTED", "UNKNOWN", "ERROR")
MAX_PER_PAGE = 500
MAX_SELECTION = 5000  # hand-picked ids per confirmation ("all" has no limit)
FS_TIMEOUT = 10.0


def _start_lock(tk: Toolkit) -> asyncio.Lock:
    """At most one start at a time (per toolkit): the overlap check and the insert must not
    interleave."""
    lock = tk.services.get("symlink_start_lock")
    if lock is None:
        lock = tk.services["symlink_start_lock"] = asyncio.Lock()
    return lock


async def settings_of(tk: Toolkit) -> SymlinkSettings:
    return await tk.settings.get(NAMESPACE)


async def off_loop(fn, *args, timeout: float = FS_TIMEOUT):
    """Blocking filesystem work in a thread, with a deadline (a hung mount must not hang us)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout)
    except asyncio.TimeoutError:
        raise ApiError(503, f"the filesystem did not answer within {timeout:g}s") from None


# ------------------------------------------------------------------------ paths

def resolve_under_media(media_path: str, path: str) -> str:
    """Blocking. ``path`` (absolute, or relative to the media path) as an absolute path that
    lies under the media path, also once every symlink is resolved. Raises ``ValueError``."""
    if not isinstance(path, str) or not path.strip() or "\0" in path:
        raise ValueError("empty or invalid path")
    if ".." in path.replace("\\", "/").split("/"):
        raise ValueError(f"{path!r}: '..' is not allowed")
    media = os.path.normpath(media_path)
    candidate = os.path.normpath(path if os.path.isabs(path) else os.path.join(media, path))
    if candidate != media and not candidate.startswith(media.rstrip("/") + "/"):
        raise ValueError(f"{path!r} is not under the media path {media}")
    real_media = os.path.realpath(media)
    real = os.path.realpath(candidate)
    if real != real_media and not real.startswith(real_media.rstrip("/") + "/"):
        raise ValueError(f"{path!r} leads outside the media path through a symlink")
    if not os.path.isdir(candidate):
        raise ValueError(f"{path!r} is not an existing folder")
    return candidate


def resolve_all(media_path: str, paths: list[str]) -> tuple[list[str], dict[str, str]]:
    """Blocking. The folders resolved under the media path (nested ones dropped) and an error
    per refused one (``paths.<index>``)."""
    resolved, errors = [], {}
    for index, path in enumerate(paths):
        try:
            resolved.append(resolve_under_media(media_path, path))
        except ValueError as exc:
            errors[f"paths.{index}"] = str(exc)
    # a path inside another selected one would be scanned twice
    unique = sorted(set(resolved))
    kept = [p for p in unique if not any(p != o and p.startswith(o.rstrip("/") + "/") for o in unique)]
    return kept, errors


def _overlaps(a: list[str], b: list[str]) -> bool:
    def under(x: str, y: str) -> bool:
        return x == y or x.startswith(y.rstrip("/") + "/")
    return any(under(x, y) or under(y, x) for x in a for y in b)


# ------------------------------------------------------------------------ scans

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
        raise ApiError(400, "invalid scan request", fields=fields)
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
            if _overlaps(resolved, list(other.selected_paths or [])):
                raise ApiError(409, _("scan %(id)s is already running on these folders", id=other.id),
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
        raise ApiError(400, "invalid scan paths", fields=errors)
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
        async with tk.sessions() as session:
            await session.execute(update(SymlinkScan).where(SymlinkScan.id == scan.id)
                                  .values(job_id=job.id))
            await session.commit()
        scan.job_id = job.id
    await rotate(tk)
    return scan


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
        raise ApiError(400, "invalid scan paths: " + "; ".join(errors.values()))
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
        if scan is None or scan.status != "queued" or scan.job_id not in (None, job_id):
            raise ApiError(409, f"scan {scan_id} is not a queued scan waiting for this job")
        selected, mode, depth = list(scan.selected_paths or []), scan.mode, scan.verification_depth
    settings = await settings_of(tk)
    resolved, errors = await off_loop(resolve_all, settings.media_path, selected)
    if errors or not resolved:
        message = "invalid scan paths: " + ("; ".join(errors.values()) or "none")
        async with tk.sessions() as session:
            await session.execute(update(SymlinkScan).where(SymlinkScan.id == scan_id).values(
                status="error", error_message=message, finished_at=utcnow()))
            await session.commit()
        raise ApiError(400, message)
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
            deleting = await job_or_none(tk, deletion_job_id)
            if status not in ACTIVE_SCAN_STATES and not (deleting and deleting.active):
                old.append(scan_id)
        if old:
            await session.execute(delete(SymlinkProblem).where(SymlinkProblem.scan_id.in_(old)))
            await session.execute(delete(SymlinkScan).where(SymlinkScan.id.in_(old)))
            await session.commit()
    return len(old)


def _final_state(scan: SymlinkScan, job) -> bool:
    """A scan whose job ended without the task saying so (cancelled while queued, process
    restarted...) takes the job's final state. True when ``scan`` changed."""
    if job is None:
        scan.status = "interrupted"
        return True
    if job.state not in ACTIVE_STATES:
        scan.status = {"cancelled": "cancelled", "completed": "completed",
                       "interrupted": "interrupted"}.get(job.state, "error")
        scan.error_message = scan.error_message or job.error
        scan.finished_at = scan.finished_at or utcnow()
        return True
    if job.state == "cancelling" and scan.status != "cancelling":
        scan.status = "cancelling"
        return True
    return False


async def job_or_none(tk: Toolkit, job_id: str | None):
    if not job_id:
        return None
    try:
        return await tk.runner.get(job_id)
    except JobNotFound:
        return None


async def reconcile_active(tk: Toolkit, session) -> None:
    rows = (await session.execute(select(SymlinkScan).where(
        SymlinkScan.status.in_(ACTIVE_SCAN_STATES)))).scalars().all()
    changed = False
    for scan in rows:
        if scan.job_id:
            changed |= _final_state(scan, await job_or_none(tk, scan.job_id))
    if changed:
        await session.commit()


async def reconcile_all(tk: Toolkit) -> None:
    async with tk.sessions() as session:
        await reconcile_active(tk, session)


async def get_scan(tk: Toolkit, scan_id: str, *, with_job: bool = False):
    """The scan (reconciled with its job when it looks active); with ``with_job``, also its
    job's view (``None`` once finished or gone)."""
    job = None
    async with tk.sessions() as session:
        scan = await session.get(SymlinkScan, scan_id)
        if scan is None:
            raise ApiError(404, f"no scan {scan_id!r} (only the last {KEEP_SCANS} scans are kept)")
        if scan.status in ACTIVE_SCAN_STATES and scan.job_id:
            job = await job_or_none(tk, scan.job_id)
            if _final_state(scan, job):
                await session.commit()
    return (scan, job) if with_job else scan


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
        await tk.runner.cancel(scan.job_id)
        async with tk.sessions() as session:
            await session.execute(update(SymlinkScan).where(
                SymlinkScan.id == scan_id, SymlinkScan.status.in_(ACTIVE_SCAN_STATES))
                .values(status="cancelling"))
            await session.commit()
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


# ------------------------------------------------------------------------ problems

MAX_PAGE = 10**9  # beyond, the database's offset would overflow


def parse_page(args) -> tuple[int, int]:
    try:
        page = min(max(int(args.get("page", 1)), 1), MAX_PAGE)
        per_page = min(max(int(args.get("per_page", 50)), 1), MAX_PER_PAGE)
    except (TypeError, ValueError):
        raise ApiError(400, "page and per_page must be integers") from None
    return page, per_page


async def problems_page(tk: Toolkit, scan_id: str, *, status: str | None = None,
                        ignored: str = "exclude", outcome: str | None = None,
                        deletable_only: bool = False, ids: list[int] | None = None,
                        page: int = 1, per_page: int = 50) -> dict:
    await get_scan(tk, scan_id)
    conditions = list(deletable_filter(scan_id)) if deletable_only else [SymlinkProblem.scan_id == scan_id]
    if ids is not None:
        conditions.append(SymlinkProblem.id.in_(ids))
    if status:
        statuses = [s.strip().upper() for s in status.split(",") if s.strip()]
        bad = [s for s in statuses if s not in PROBLEM_FILTERS]
        if bad:
            raise ApiError(400, f"unknown status {', '.join(bad)}; use {', '.join(PROBLEM_FILTERS)}")
        conditions.append(SymlinkProblem.status.in_(statuses))
    if ignored not in ("exclude", "include", "only"):
        raise ApiError(400, "ignored must be exclude, include or only")
    if ignored != "include":
        conditions.append(SymlinkProblem.ignored.is_(ignored == "only"))
    if outcome:
        conditions.append(SymlinkProblem.outcome == outcome if outcome != "none"
                          else SymlinkProblem.outcome.is_(None))
    async with tk.sessions() as session:
        total = (await session.execute(select(func.count()).select_from(SymlinkProblem)
                                       .where(*conditions))).scalar_one()
        rows = (await session.execute(select(SymlinkProblem).where(*conditions)
                                      .order_by(SymlinkProblem.path, SymlinkProblem.id)
                                      .offset((page - 1) * per_page).limit(per_page))).scalars().all()
        by_status = dict((await session.execute(
            select(SymlinkProblem.status, func.count()).where(
                SymlinkProblem.scan_id == scan_id, SymlinkProblem.ignored.is_(False))
            .group_by(SymlinkProblem.status))).all())
        ignored_count = (await session.execute(select(func.count()).select_from(SymlinkProblem).where(
            SymlinkProblem.scan_id == scan_id, SymlinkProblem.ignored.is_(True)))).scalar_one()
    return {"scan_id": scan_id, "page": page, "per_page": per_page, "total": total,
            "pages": max((total + per_page - 1) // per_page, 1),
            "counts_by_status": by_status, "ignored_count": ignored_count,
            "items": [row.as_dict() for row in rows]}


MAX_NOTE = 500  # a note says why in a sentence or two; longer is refused, not stored


def _is_id(value: object) -> bool:
    """A row id the database can hold (a larger integer would be a 500 there)."""
    return type(value) is int and 1 <= value <= MAX_ID


async def ignore_path(tk: Toolkit, *, path: str | None = None, problem_id: int | None = None,
                      note: str | None = None) -> dict:
    if problem_id is not None and not _is_id(problem_id):
        raise ApiError(404, f"no problem {problem_id}")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise ApiError(422, f"the note must be text of at most {MAX_NOTE} characters",
                       fields={"note": f"at most {MAX_NOTE} characters"})
    async with tk.sessions() as session:
        status = None
        if problem_id is not None:
            problem = await session.get(SymlinkProblem, problem_id)
            if problem is None:
                raise ApiError(404, f"no problem {problem_id}")
            path, status = problem.path, problem.status
        if not path or not isinstance(path, str) or not os.path.isabs(path):
            raise ApiError(400, "give a problem_id or an absolute path to ignore")
        existing = (await session.execute(select(SymlinkIgnore).where(
            SymlinkIgnore.path == path))).scalar_one_or_none()
        if existing is None:
            existing = SymlinkIgnore(path=path, status=status, note=note, created_at=utcnow())
            session.add(existing)
        await session.execute(update(SymlinkProblem).where(SymlinkProblem.path == path)
                              .values(ignored=True))
        await record_problem_event(session, path, "ignored")
        await session.commit()
        return existing.as_dict()


async def unignore(tk: Toolkit, ignore_id: int) -> dict:
    async with tk.sessions() as session:
        row = await session.get(SymlinkIgnore, ignore_id)
        if row is None:
            raise ApiError(404, f"no ignored path {ignore_id}")
        await session.delete(row)
        await session.execute(update(SymlinkProblem).where(SymlinkProblem.path == row.path)
                              .values(ignored=False))
        await record_problem_event(session, row.path, "seen")
        await session.commit()
        return row.as_dict()


async def unignore_problem(tk: Toolkit, problem_id: int) -> dict:
    """Stop ignoring the path of one of a scan's problems (the page's "Undo")."""
    async with tk.sessions() as session:
        problem = await session.get(SymlinkProblem, problem_id)
        if problem is None:
            raise ApiError(404, f"no problem {problem_id}")
        ignore_id = (await session.execute(select(SymlinkIgnore.id).where(
            SymlinkIgnore.path == problem.path))).scalar_one_or_none()
    if ignore_id is None:
        raise ApiError(404, f"{problem.path} is not ignored")
    return await unignore(tk, ignore_id)


async def list_ignores(tk: Toolkit) -> list[dict]:
    async with tk.sessions() as session:
        rows = (await session.execute(select(SymlinkIgnore).order_by(SymlinkIgnore.path))).scalars()
        return [row.as_dict() for row in rows]


# ------------------------------------------------------------------------ deletion

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


def _why_not_deletable(scan: SymlinkScan) -> str | None:
    if scan.mode != "real":
        return _("this was a dry run: re-run it in real mode to delete")
    if scan.status != "completed":
        return _("the scan is %(status)s: only a completed scan's results can be deleted", status=scan.status)
    if (scan.results_json or {}).get("mount_down"):
        return _("a mount was down during this scan: re-scan once it is healthy")
    return None


async def deletion_summary(tk: Toolkit, scan: SymlinkScan) -> dict:
    count, token = await _deletable_set(tk, scan.id) if scan.status == "completed" else (0, "")
    settings = await settings_of(tk)
    from ..engine.deletion import deletion_guard

    guard = deletion_guard(count, scan.total_analyzed or 0, max_count=settings.max_deletions,
                           max_share=settings.max_deletion_share)
    async with tk.sessions() as session:
        outcomes = dict((await session.execute(
            select(SymlinkProblem.outcome, func.count()).where(
                SymlinkProblem.scan_id == scan.id, SymlinkProblem.outcome.is_not(None))
            .group_by(SymlinkProblem.outcome))).all())
    running = None
    if scan.deletion_job_id:
        try:
            job = await tk.runner.get(scan.deletion_job_id)
            running = job.active
        except JobNotFound:
            running = False
    return {"allowed": _why_not_deletable(scan) is None, "blocked_reason": _why_not_deletable(scan),
            "count": count, "token": token,
            "needs_override": not guard.allowed, "guard_reason": guard.reason,
            "outcomes": outcomes, "running": bool(running), "job_id": scan.deletion_job_id}


async def confirm_delete(tk: Toolkit, scan_id: str, data: dict) -> dict:
    """Delete all (``{"all": true, "token": ...}``) or some (``{"ids": [...]}``) of a real-mode
    scan's deletable problems, after the user saw them. Runs as a ``symlink:delete`` job."""
    scan = await get_scan(tk, scan_id)
    why_not = _why_not_deletable(scan)
    if why_not:
        raise ApiError(409, why_not, code="not_deletable")
    override = data.get("override") is True
    token: str | None = None
    if data.get("all") is True:
        count, token = await _deletable_set(tk, scan_id)
        if data.get("token") != token:
            raise ApiError(409, _("the results changed since this list was shown: review it again"),
                           code="stale_selection")
        chosen: list[int] | None = None
    else:
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids or not all(_is_id(i) for i in ids):
            raise ApiError(400, "give 'ids' (a list of problem ids) or 'all': true with its token")
        if len(ids) > MAX_SELECTION:
            raise ApiError(400, f"select at most {MAX_SELECTION} items, or delete all with the token")
        stale = sorted(set(ids) - await _deletable_among(tk, scan_id, ids))
        if stale:
            raise ApiError(409, f"{len(stale)} selected item(s) are not deletable results of this "
                           f"scan (already handled, ignored, or from another scan)",
                           code="stale_selection", ids=stale[:50])
        chosen = sorted(set(ids))
        count, token = await _deletable_set(tk, scan_id, chosen)
    if count == 0:
        raise ApiError(409, _("nothing to delete in this scan"), code="nothing_to_delete")
    settings = await settings_of(tk)
    from ..engine.deletion import deletion_guard

    guard = deletion_guard(count, scan.total_analyzed or 0, max_count=settings.max_deletions,
                           max_share=settings.max_deletion_share, override=override)
    if not guard.allowed:
        raise ApiError(409, _("%(reason)s: confirm with the override to go ahead", reason=guard.reason),
                       code="mass_deletion")
    job = await _enqueue_deletion(tk, scan, settings, chosen, token, override=override)
    return {"scan_id": scan_id, "job_id": job.id, "count": count, "override": guard.reason}


async def check_deletion_allowed(tk: Toolkit, scan_id: str, problem_ids: list[int] | None,
                                 override: bool) -> None:
    """What the ``symlink:delete`` task checks when it starts, however it was started: a
    completed real-mode scan with no mount down, within the mass-deletion guard (unless
    the person passed it). Raises :class:`ApiError`; nothing is deleted then."""
    from ..engine.deletion import deletion_guard

    scan = await get_scan(tk, scan_id)
    why_not = _why_not_deletable(scan)
    if why_not:
        raise ApiError(409, f"{why_not}: nothing was deleted", code="not_deletable")
    count, _token = await _deletable_set(tk, scan_id, problem_ids)
    settings = await settings_of(tk)
    guard = deletion_guard(count, scan.total_analyzed or 0, max_count=settings.max_deletions,
                           max_share=settings.max_deletion_share, override=override)
    if not guard.allowed:
        raise ApiError(409, f"{guard.reason}: nothing was deleted", code="mass_deletion")


async def _enqueue_deletion(tk: Toolkit, scan: SymlinkScan, settings: SymlinkSettings,
                            problem_ids: list[int] | None, token: str, *, override: bool = False):
    job = await tk.runner.enqueue("symlink:delete", {
        "scan_id": scan.id, "problem_ids": problem_ids, "token": token, "override": override,
        "paths": list(scan.selected_paths), "depth": scan.verification_depth,
        "small_files": settings.small_files})
    async with tk.sessions() as session:
        await session.execute(update(SymlinkScan).where(SymlinkScan.id == scan.id)
                              .values(deletion_job_id=job.id))
        await session.commit()
    return job


async def auto_delete(tk: Toolkit, scan_id: str) -> dict:
    """After a scheduled real-mode scan: delete what it found, but only when the user opted
    in (``scheduled_deletions``), no mount was down or unanswering during the scan (no
    UNKNOWN item) and the mass-deletion limits hold. Otherwise nothing is deleted and the
    decision says why. The decision (``outcome``: started, nothing, off, guard) is kept in
    the scan's results; the deletion job then repairs as after a manual deletion."""
    from ..engine.checker import UNKNOWN
    from ..engine.deletion import deletion_guard

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
    from ..models import SymlinkDeletion

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
    from toolkit.core.db import create_engine_sync

    from ..engine.deletion import restore
    from ..engine.store import DeletionJournal

    engine = create_engine_sync(database_url)
    try:
        return restore(DeletionJournal(engine), ids=journal_ids, scan_id=scan_id, root=media_path)
    finally:
        engine.dispose()


async def restore_deleted(tk: Toolkit, data: dict) -> dict:
    ids, scan_id = data.get("journal_ids"), data.get("scan_id")
    if ids is not None and (not isinstance(ids, list) or not ids
                            or not all(_is_id(i) for i in ids)):
        raise ApiError(400, "journal_ids must be a non-empty list of integers")
    if not ids and not (isinstance(scan_id, str) and scan_id):
        raise ApiError(400, "give journal_ids or a scan_id to restore")
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

