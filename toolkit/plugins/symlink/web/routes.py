"""HTTP side of the symlink plugin: the JSON API (``/api/symlink/...``, the seed's URLs plus
what its flow needs); the page ``/symlink`` and its htmx fragments are in :mod:`.pages`.
The work is done by the service layer; request models are in :mod:`.requests`.
"""
from __future__ import annotations

from quart import Blueprint, jsonify

from toolkit.api import AnyObject, body, current_toolkit, declares, query

from ..service import connections, problems, scans, schedules
from ..service.config import config_body, save_config
from ..service.deletions import confirm_delete, deletions_page, restore_deleted
from ..service.directories import directory_level, link_counter
from .requests import (ApplyBody, DeleteBody, DeletionsQuery, DirectoriesQuery, EnabledBody,
                       IgnoreBody, ProblemsQuery, RestoreBody, ScanStartBody, ScheduleBody,
                       ServicesBody, given)

api = Blueprint("symlink_api", __name__, url_prefix="/api/symlink")


# ------------------------------------------------------------------------ config

@api.get("/config")
async def get_config():
    """The settings (defaults stored on first read); API keys masked."""
    return await config_body(current_toolkit())


@api.post("/config")
@body(AnyObject)
async def post_config(body: AnyObject):
    """Save some settings; 422 with a message per field; a masked API key sent back keeps the
    stored key."""
    tk = current_toolkit()
    return await config_body(tk, await save_config(tk, body.model_extra))


# ------------------------------------------------------------------------ directories

@api.get("/directories")
@query(DirectoriesQuery)
async def directories(query: DirectoriesQuery):
    """One level of the media path's tree: ``{path, name, symlink_count, subdirs}``; counts
    are ``null`` (``counting: true``) until computed in the background. ``?path=`` picks the
    folder (relative to the media path)."""
    return await directory_level(current_toolkit(), query.path)


# ------------------------------------------------------------------------ scans

@api.post("/scan/start")
@declares(202)
@body(ScanStartBody)
async def scan_start(body: ScanStartBody):
    """Start a scan: ``{paths[], mode: dry-run|real, verification_depth: basic|full|deep}``;
    400 for a path outside the media path, 409 when a scan already runs on these folders."""
    scan = await scans.start_from(current_toolkit(), given(body))
    return {"scan_id": scan.id, "status": scan.status, "job_id": scan.job_id}, 202


@api.get("/scan/status/<scan_id>")
async def scan_status(scan_id: str):
    """``{status, progress (percent), phase, statistics, eta, ...}``."""
    return await scans.scan_status(current_toolkit(), scan_id)


@api.post("/scan/cancel/<scan_id>")
async def scan_cancel(scan_id: str):
    """Ask a scan to stop; what it found so far is kept."""
    return await scans.cancel_scan(current_toolkit(), scan_id)


@api.get("/scans/history")
@declares(array=True)
async def scans_history():
    """The last 3 scans, newest first (older ones are rotated out with their problems)."""
    return jsonify(await scans.history(current_toolkit()))


@api.get("/scans/<scan_id>")
@query(ProblemsQuery)
async def scan_details(scan_id: str, query: ProblemsQuery):
    """A scan with its problems: ``?status=BROKEN,IO_ERROR&page=1&per_page=50&ignored=exclude``."""
    tk = current_toolkit()
    answer = await scans.scan_status(tk, scan_id)
    answer["problems"] = await problems.problems_page(
        tk, scan_id, status=query.status or None, ignored=query.ignored,
        outcome=query.outcome or None, page=query.page, per_page=query.per_page)
    return answer


@api.post("/scans/<scan_id>/rerun")
@declares(202)
async def scan_rerun(scan_id: str):
    """Start a new scan with the same folders, mode and depth."""
    scan = await scans.rerun(current_toolkit(), scan_id)
    return {"scan_id": scan.id, "status": scan.status, "job_id": scan.job_id}, 202


@api.post("/scans/<scan_id>/delete")
@declares(202)
@body(DeleteBody)
async def scan_delete(scan_id: str, body: DeleteBody):
    """Confirm the deletion of a real-mode scan's problems: ``{"all": true, "token": ...}``
    (token from the scan's ``deletion`` summary) or ``{"ids": [...]}``; ``override: true``
    passes the mass-deletion guard. 409 when the selection is stale."""
    return await confirm_delete(current_toolkit(), scan_id, given(body)), 202


@api.get("/deletions")
@query(DeletionsQuery)
async def deletions(query: DeletionsQuery):
    """The deletion journal, newest first: ``?state=deleted|restored|failed|pending|skipped|all``
    (default ``deleted``: what can be restored), ``page``, ``per_page``."""
    return await deletions_page(current_toolkit(), state=None if query.state == "all" else query.state,
                                page=query.page, per_page=query.per_page)


@api.post("/restore")
@body(RestoreBody)
async def restore(body: RestoreBody):
    """Re-create deleted links from the journal: ``{"journal_ids": [...]}`` or
    ``{"scan_id": ...}``."""
    tk = current_toolkit()
    result = await restore_deleted(tk, given(body))
    link_counter(tk).invalidate()
    return result


@api.get("/ignores")
@declares(array=True)
async def ignores():
    """The ignored paths."""
    return jsonify(await problems.list_ignores(current_toolkit()))


@api.post("/ignores")
@declares(201)
@body(IgnoreBody)
async def add_ignore(body: IgnoreBody):
    """Ignore an item in this and future scans: ``{"problem_id": N}`` or ``{"path": ...}``,
    with an optional short ``note`` (500 characters at most)."""
    return await problems.ignore_path(current_toolkit(), path=body.path, problem_id=body.problem_id,
                                      note=body.note), 201


@api.delete("/ignores/<int:ignore_id>")
async def remove_ignore(ignore_id: int):
    """Stop ignoring a path."""
    return await problems.unignore(current_toolkit(), ignore_id)


# ------------------------------------------------------------------------ schedules

@api.get("/schedules")
@declares(array=True)
async def list_schedules():
    """The scan schedules: when (``description``, ``cron``), folders, mode, depth, enabled,
    ``next_run``, and the last result (``last_scan``, ``last_job_state``)."""
    return jsonify(await schedules.list_schedules(current_toolkit()))


@api.post("/schedules")
@body(ScheduleBody)
async def save_schedule(body: ScheduleBody):
    """Create or replace a scan schedule: ``{name, frequency: daily|weekly|cron, time: "HH:MM",
    weekday: 0-6 (0 = Sunday), cron, paths[] (empty: the whole media path), mode,
    verification_depth, enabled, original (the name being renamed)}``. Real mode needs the
    ``scheduled_deletions`` setting. 422 with a message per field."""
    return await schedules.save_schedule(current_toolkit(), given(body))


@api.post("/schedules/<name>/enabled")
@body(EnabledBody)
async def enable_schedule(name: str, body: EnabledBody):
    """``{"enabled": true|false}``."""
    return await schedules.set_enabled(current_toolkit(), name, body.enabled is True)


@api.delete("/schedules/<name>")
async def delete_schedule(name: str):
    """Remove a scan schedule."""
    return await schedules.delete_schedule(current_toolkit(), name)


# ------------------------------------------------------------------------ services

@api.post("/test/services")
@body(ServicesBody, optional=True)
async def post_test_services(body: ServicesBody):
    """Test Sonarr/Radarr: ``{"services": ["sonarr"]}`` (default: the enabled ones); each
    answer says the version found or why it failed."""
    return await connections.test_services(current_toolkit(), body.services or [])


@api.post("/services/detect")
@declares(503)
async def post_detect_services():
    """Look for Sonarr/Radarr containers through Docker; nothing is saved."""
    return await connections.detect_services()


@api.post("/services/apply")
@declares(503)
@body(ApplyBody)
async def post_apply_detected(body: ApplyBody):
    """Use a detected service: ``{"container_id": ...}`` saves its host, port and API key."""
    tk = current_toolkit()
    return await config_body(tk, await connections.apply_detected(tk, body.container_id))
