"""HTTP side of the symlink plugin: the JSON API (``/api/symlink/...``, the seed's URLs plus
what its flow needs) and the page ``/symlink`` with its htmx fragments (see :mod:`.pages`).
"""
from __future__ import annotations

import asyncio
import os

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt, ValidationError
from quart import Blueprint, current_app, jsonify

from toolkit.core.settings import MASK, SettingsError, field_errors, public
from toolkit.web.errors import ApiError
from toolkit.web.i18n import gettext as _
from toolkit.web.validation import MAX_ID, AnyObject, Name, Note, PathText, body, declares, query

from ..service import scans, schedules
from ..engine.directories import LinkCounter, list_subdirs, node
from ..settings import check_media_path

api = Blueprint("symlink_api", __name__, url_prefix="/api/symlink")


# ------------------------------------------------------------------------ request models
# Types, ranges and lengths are checked here (422 naming the field); what the values mean
# (a folder under the media path, a deletable result...) is checked by scans/schedules.

StrictId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Paths = Annotated[list[PathText], Field(max_length=100)]
Word = Annotated[str, Field(max_length=40)]


class DirectoriesQuery(BaseModel):
    path: PathText = ""


class ScanStartBody(BaseModel):
    paths: Paths | None = None
    mode: Word | None = None
    verification_depth: Word | None = None
    depth: Word | None = None


class PageQuery(BaseModel):
    page: int = Field(1, ge=1, le=scans.MAX_PAGE)
    per_page: int = Field(50, ge=1, le=scans.MAX_PER_PAGE)


class ProblemsQuery(PageQuery):
    status: Annotated[str, Field(max_length=200)] | None = None
    ignored: Literal["exclude", "include", "only"] = "exclude"
    outcome: Word | None = None


class DeletionsQuery(PageQuery):
    state: Literal["deleted", "restored", "failed", "pending", "skipped", "all"] = "deleted"


class DeleteBody(BaseModel):
    all: StrictBool | None = None
    token: Annotated[str, Field(max_length=64)] | None = None
    ids: list[StrictId] | None = None
    override: StrictBool | None = None


class RestoreBody(BaseModel):
    journal_ids: Annotated[list[StrictId], Field(max_length=scans.MAX_SELECTION)] | None = None
    scan_id: Annotated[str, Field(max_length=64)] | None = None


class IgnoreBody(BaseModel):
    problem_id: StrictId | None = None
    path: PathText | None = None
    note: Note | None = None


class ScheduleBody(BaseModel):
    name: Name | None = None
    original: Name | None = None
    frequency: Word | None = None
    time: Word | None = None
    weekday: Annotated[int, Field(ge=0, le=6)] | Word | None = None
    cron: Annotated[str, Field(max_length=200)] | None = None
    paths: Paths | Annotated[str, Field(max_length=100_000)] | None = None
    mode: Word | None = None
    verification_depth: Word | None = None
    depth: Word | None = None
    enabled: StrictBool | Word | None = None


class EnabledBody(BaseModel):
    enabled: Any = None  # only ``true`` enables


class ServicesBody(BaseModel):
    services: list[Literal["sonarr", "radarr"]] | None = None


class ApplyBody(BaseModel):
    container_id: Annotated[str, Field(min_length=1, max_length=128)]


def given(model: BaseModel) -> dict:
    """What the client sent, as the dict the functions behind the API take."""
    return model.model_dump(exclude_unset=True)


def toolkit():
    from toolkit.web.app import current_toolkit

    return current_toolkit()


def link_counter() -> LinkCounter:
    counter = current_app.extensions.get("symlink_counter")
    if counter is None:
        counter = current_app.extensions["symlink_counter"] = LinkCounter()
    return counter


# ------------------------------------------------------------------------ config

async def save_config(changes: dict):
    """Validate and save; ``media_path`` must exist, be a folder and be readable when it
    changes. Raises ``SettingsError`` (422) and saves nothing when any field is wrong."""
    tk = toolkit()
    if not isinstance(changes, dict):
        raise SettingsError({"__root__": "expected a JSON object"})
    current = await scans.settings_of(tk)
    media_error = None
    if "media_path" in changes and isinstance(changes["media_path"], str):
        try:
            candidate = type(current).model_validate(
                {"media_path": changes["media_path"]}).media_path
        except ValidationError:
            candidate = None  # the model's own message comes from update() below
        if candidate and candidate != current.media_path:
            media_error = await scans.off_loop(check_media_path, candidate)
    if media_error:
        # refuse the whole change, with every other field's message too, before any write
        fields = {}
        candidate_values = {k: v for k, v in changes.items() if v != MASK}
        try:
            type(current).model_validate({**current.model_dump(), **candidate_values})
        except ValidationError as exc:
            fields = field_errors(exc)
        raise SettingsError({**fields, "media_path": media_error})
    settings = await tk.settings.update(scans.NAMESPACE, changes)
    if settings.media_path != current.media_path:
        link_counter().invalidate()
    return settings


async def config_body(settings=None) -> dict:
    tk = toolkit()
    settings = settings or await tk.settings.ensure_defaults(scans.NAMESPACE)
    return {**public(settings), "overridden_by_env": tk.settings.overridden(scans.NAMESPACE),
            "media_path_problem": await scans.off_loop(check_media_path, settings.media_path)}


@api.get("/config")
async def get_config():
    """The settings (defaults stored on first read); API keys masked."""
    return await config_body()


@api.post("/config")
@body(AnyObject)
async def post_config(body: AnyObject):
    """Save some settings; 422 with a message per field; a masked API key sent back keeps the
    stored key."""
    return await config_body(await save_config(body.model_extra))


# ------------------------------------------------------------------------ directories

async def directory_level(relative: str) -> dict:
    tk = toolkit()
    settings = await scans.settings_of(tk)
    media = settings.media_path
    problem = await scans.off_loop(check_media_path, media)
    if problem:
        raise ApiError(404, f"media path {media}: {problem}", code="media_path")
    try:
        path = await scans.off_loop(scans.resolve_under_media, media, relative or media)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    try:
        names, truncated = await scans.off_loop(list_subdirs, path)
    except OSError as exc:
        raise ApiError(404, f"cannot list {path}: {exc.strerror or exc}") from None
    counter = link_counter()
    body = node(counter, media, path)
    body["subdirs"] = [node(counter, media, os.path.join(path, name)) for name in names]
    body["truncated"] = truncated
    body["media_path"] = media
    return body


@api.get("/directories")
@query(DirectoriesQuery)
async def directories(query: DirectoriesQuery):
    """One level of the media path's tree: ``{path, name, symlink_count, subdirs}``; counts
    are ``null`` (``counting: true``) until computed in the background. ``?path=`` picks the
    folder (relative to the media path)."""
    return await directory_level(query.path)


# ------------------------------------------------------------------------ scans

def _expected_links(paths: list[str]) -> int | None:
    """The cached counts of the chosen folders, for a phase-1 progress bar."""
    counter = link_counter()
    counts = [counter.cached(os.path.normpath(p)) for p in paths if os.path.isabs(p)]
    if not counts or any(c is None or c < 0 for c in counts):
        return None
    return sum(counts)  # type: ignore[arg-type]


async def start_from(data: dict):
    tk = toolkit()
    media = (await scans.settings_of(tk)).media_path
    paths = data.get("paths") if isinstance(data.get("paths"), list) else []
    absolute = [p if os.path.isabs(p) else os.path.join(media, p) for p in paths if isinstance(p, str)]
    return await scans.start_scan(tk, data, expected_links=_expected_links(absolute))


@api.post("/scan/start")
@declares(202)
@body(ScanStartBody)
async def scan_start(body: ScanStartBody):
    """Start a scan: ``{paths[], mode: dry-run|real, verification_depth: basic|full|deep}``;
    400 for a path outside the media path, 409 when a scan already runs on these folders."""
    scan = await start_from(given(body))
    return {"scan_id": scan.id, "status": scan.status, "job_id": scan.job_id}, 202


@api.get("/scan/status/<scan_id>")
async def scan_status(scan_id: str):
    """``{status, progress (percent), phase, statistics, eta, ...}``."""
    return await scans.scan_status(toolkit(), scan_id)


@api.post("/scan/cancel/<scan_id>")
async def scan_cancel(scan_id: str):
    """Ask a scan to stop; what it found so far is kept."""
    return await scans.cancel_scan(toolkit(), scan_id)


@api.get("/scans/history")
@declares(array=True)
async def scans_history():
    """The last 3 scans, newest first (older ones are rotated out with their problems)."""
    return jsonify(await scans.history(toolkit()))


@api.get("/scans/<scan_id>")
@query(ProblemsQuery)
async def scan_details(scan_id: str, query: ProblemsQuery):
    """A scan with its problems: ``?status=BROKEN,IO_ERROR&page=1&per_page=50&ignored=exclude``."""
    tk = toolkit()
    answer = await scans.scan_status(tk, scan_id)
    answer["problems"] = await scans.problems_page(
        tk, scan_id, status=query.status or None, ignored=query.ignored,
        outcome=query.outcome or None, page=query.page, per_page=query.per_page)
    return answer


@api.post("/scans/<scan_id>/rerun")
@declares(202)
async def scan_rerun(scan_id: str):
    """Start a new scan with the same folders, mode and depth."""
    scan = await scans.rerun(toolkit(), scan_id)
    return {"scan_id": scan.id, "status": scan.status, "job_id": scan.job_id}, 202


@api.post("/scans/<scan_id>/delete")
@declares(202)
@body(DeleteBody)
async def scan_delete(scan_id: str, body: DeleteBody):
    """Confirm the deletion of a real-mode scan's problems: ``{"all": true, "token": ...}``
    (token from the scan's ``deletion`` summary) or ``{"ids": [...]}``; ``override: true``
    passes the mass-deletion guard. 409 when the selection is stale."""
    return await scans.confirm_delete(toolkit(), scan_id, given(body)), 202


@api.get("/deletions")
@query(DeletionsQuery)
async def deletions(query: DeletionsQuery):
    """The deletion journal, newest first: ``?state=deleted|restored|failed|pending|skipped|all``
    (default ``deleted``: what can be restored), ``page``, ``per_page``."""
    return await scans.deletions_page(toolkit(), state=None if query.state == "all" else query.state,
                                      page=query.page, per_page=query.per_page)


@api.post("/restore")
@body(RestoreBody)
async def restore(body: RestoreBody):
    """Re-create deleted links from the journal: ``{"journal_ids": [...]}`` or
    ``{"scan_id": ...}``."""
    result = await scans.restore_deleted(toolkit(), given(body))
    link_counter().invalidate()
    return result


@api.get("/ignores")
@declares(array=True)
async def ignores():
    """The ignored paths."""
    return jsonify(await scans.list_ignores(toolkit()))


@api.post("/ignores")
@declares(201)
@body(IgnoreBody)
async def add_ignore(body: IgnoreBody):
    """Ignore an item in this and future scans: ``{"problem_id": N}`` or ``{"path": ...}``,
    with an optional short ``note`` (500 characters at most)."""
    return await scans.ignore_path(toolkit(), path=body.path, problem_id=body.problem_id,
                                   note=body.note), 201


@api.delete("/ignores/<int:ignore_id>")
async def remove_ignore(ignore_id: int):
    """Stop ignoring a path."""
    return await scans.unignore(toolkit(), ignore_id)


# ------------------------------------------------------------------------ schedules

@api.get("/schedules")
@declares(array=True)
async def list_schedules():
    """The scan schedules: when (``description``, ``cron``), folders, mode, depth, enabled,
    ``next_run``, and the last result (``last_scan``, ``last_job_state``)."""
    return jsonify(await schedules.list_schedules(toolkit()))


@api.post("/schedules")
@body(ScheduleBody)
async def save_schedule(body: ScheduleBody):
    """Create or replace a scan schedule: ``{name, frequency: daily|weekly|cron, time: "HH:MM",
    weekday: 0-6 (0 = Sunday), cron, paths[] (empty: the whole media path), mode,
    verification_depth, enabled, original (the name being renamed)}``. Real mode needs the
    ``scheduled_deletions`` setting. 422 with a message per field."""
    return await schedules.save_schedule(toolkit(), given(body))


@api.post("/schedules/<name>/enabled")
@body(EnabledBody)
async def enable_schedule(name: str, body: EnabledBody):
    """``{"enabled": true|false}``."""
    return await schedules.set_enabled(toolkit(), name, body.enabled is True)


@api.delete("/schedules/<name>")
async def delete_schedule(name: str):
    """Remove a scan schedule."""
    return await schedules.delete_schedule(toolkit(), name)


# ------------------------------------------------------------------------ services

async def test_services(which: list[str]) -> dict:
    """Test the enabled (or named) Sonarr/Radarr connections with the services layer:
    each answer says the version found, or why it failed."""
    from toolkit.core.services import ServiceError, client_for

    tk = toolkit()
    settings = await scans.settings_of(tk)
    results = {}
    for kind in ("sonarr", "radarr"):
        if which and kind not in which:
            continue
        host, enabled = getattr(settings, f"{kind}_host"), getattr(settings, f"{kind}_enabled")
        if not host or not (enabled or which):
            results[kind] = {"ok": False, "reason": "not_configured",
                             "message": _("%(app)s is not configured: enable it and give its "
                                          "host and API key", app=kind.capitalize())}
            continue
        try:
            async with client_for(settings.arr_connection(kind, timeout=10), http=tk.http) as client:
                results[kind] = (await client.test_connection()).to_dict()
        except ServiceError as exc:
            results[kind] = {"ok": False, **exc.to_dict()}
        except ValidationError as exc:  # the connection model refused a value: say which
            results[kind] = {"ok": False, "reason": "invalid",
                             "message": "; ".join(field_errors(exc).values())}
        except ValueError as exc:
            results[kind] = {"ok": False, "reason": "invalid", "message": str(exc)}
    return results


@api.post("/test/services")
@body(ServicesBody, optional=True)
async def post_test_services(body: ServicesBody):
    """Test Sonarr/Radarr: ``{"services": ["sonarr"]}`` (default: the enabled ones); each
    answer says the version found or why it failed."""
    return await test_services(body.services or [])


async def detect_services() -> dict:
    """Proposals for Sonarr/Radarr found through Docker (keys masked); 503 with a clear
    message when Docker cannot be reached."""
    from toolkit.core.services import DockerUnavailable
    from toolkit.core.services.docker_detect import detect_services as detect

    try:
        result = await asyncio.wait_for(asyncio.to_thread(detect), 30)
    except DockerUnavailable as exc:
        raise ApiError(503, str(exc), code="docker_unavailable") from None
    except asyncio.TimeoutError:
        raise ApiError(503, "Docker did not answer within 30 s", code="docker_unavailable") from None
    body = result.to_dict()
    body["proposals"] = [p for p in body["proposals"] if p["kind"] in ("sonarr", "radarr")]
    return body


@api.post("/services/detect")
@declares(503)
async def post_detect_services():
    """Look for Sonarr/Radarr containers through Docker; nothing is saved."""
    return await detect_services()


async def apply_detected(container_id: str):
    """Save the connection Docker detection proposes for one container (detected again
    now, so the API key never travels through the browser)."""
    from toolkit.core.services import DockerUnavailable
    from toolkit.core.services.docker_detect import detect_services as detect

    if not isinstance(container_id, str) or not container_id:
        raise ApiError(400, "give the container_id of a detected service")
    try:
        result = await asyncio.wait_for(asyncio.to_thread(detect), 30)
    except (DockerUnavailable, asyncio.TimeoutError) as exc:
        raise ApiError(503, str(exc) or "Docker did not answer", code="docker_unavailable") from None
    # the full id only: a prefix could pick another container, and give it this one's key
    proposal = next((p for p in result.proposals if p.container_id == container_id
                     and p.kind.value in ("sonarr", "radarr")), None)
    if proposal is None or not proposal.host:
        raise ApiError(404, f"no usable Sonarr/Radarr proposal for container {container_id}")
    kind = proposal.kind.value
    changes: dict = {f"{kind}_enabled": True, f"{kind}_host": proposal.host}
    if proposal.port:
        changes[f"{kind}_port"] = proposal.port
    if proposal.api_key is not None:
        changes[f"{kind}_api_key"] = proposal.api_key.get_secret_value()
    return await save_config(changes)


@api.post("/services/apply")
@declares(503)
@body(ApplyBody)
async def post_apply_detected(body: ApplyBody):
    """Use a detected service: ``{"container_id": ...}`` saves its host, port and API key."""
    return await config_body(await apply_detected(body.container_id))
