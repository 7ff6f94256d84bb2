"""The host's own endpoints: health, plugins, jobs, schedules, OpenAPI, and the home page."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictBool
from quart import Blueprint, current_app, jsonify, render_template

from toolkit import __version__
from toolkit.core.jobs import JobView
from toolkit.web.errors import ApiError
from toolkit.web.i18n import gettext as _
from toolkit.web.openapi import openapi_document
from toolkit.web.validation import AnyObject, Name, body, declares, json_object, query

api = Blueprint("toolkit_api", __name__, url_prefix="/api/toolkit")
pages = Blueprint("toolkit_pages", __name__)


def _toolkit():
    from toolkit.web.app import current_toolkit

    return current_toolkit()


json_body = json_object  # the name plugins' routes use


class JobsQuery(BaseModel):
    task: Name | None = None
    limit: int = Field(50, ge=1, le=500)


class ScheduleBody(BaseModel):
    name: Name
    task: Name
    cron: str = Field(max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: StrictBool = True


class EnabledBody(BaseModel):
    enabled: StrictBool


@api.get("/health")
async def health():
    """Liveness: the app runs and its database answers (version and plugins only when
    authenticated)."""
    from sqlalchemy import text

    from toolkit.web.auth import identity

    tk = _toolkit()
    async with tk.sessions() as session:
        await session.execute(text("SELECT 1"))
    if identity() is None:
        return {"status": "ok"}
    return {"status": "ok", "version": __version__,
            "plugins": sum(i.status == "loaded" for i in tk.host.infos.values())}


@api.get("/plugins")
@declares(array=True)
async def plugins():
    """Every plugin found: name, version, source, status, hooks and error."""
    return jsonify([i.as_dict() for i in _toolkit().host.infos.values()])


@api.get("/jobs")
@declares(array=True)
@query(JobsQuery)
async def jobs(query: JobsQuery):
    """Recent jobs, newest first (filters: ``task``, ``limit`` up to 500)."""
    views = await _toolkit().runner.list(task=query.task or None, limit=query.limit)
    return jsonify([v.as_dict() for v in views])


@api.get("/jobs/<job_id>")
async def job(job_id: str):
    """One job with its progress, result and error."""
    view: JobView = await _toolkit().runner.get(job_id)
    return view.as_dict()


@api.post("/jobs/<job_id>/cancel")
async def cancel_job(job_id: str):
    """Ask a job to stop; it answers within a second when cooperative."""
    return (await _toolkit().runner.cancel(job_id)).as_dict()


@api.get("/tasks")
@declares(array=True)
async def tasks():
    """The tasks plugins registered."""
    return jsonify([{"name": t.name, "description": t.description, "keep_last": t.keep_last}
                    for t in _toolkit().registry.tasks.values()])


@api.get("/schedules")
@declares(array=True)
async def schedules():
    """Every schedule with its next run and last outcome."""
    return jsonify([s.as_dict() for s in await _toolkit().scheduler.list()])


@api.post("/schedules")
@body(ScheduleBody)
async def save_schedule(body: ScheduleBody):
    """Create or replace a schedule: ``{name, task, cron, params, enabled}``; 422 when invalid."""
    view = await _toolkit().scheduler.save(body.name, task=body.task, cron=body.cron,
                                           params=body.params, enabled=body.enabled)
    return view.as_dict()


@api.post("/schedules/<name>/enabled")
@body(EnabledBody)
async def enable_schedule(name: str, body: EnabledBody):
    """Enable or disable a schedule: ``{enabled: bool}``."""
    return (await _toolkit().scheduler.set_enabled(name, body.enabled)).as_dict()


@api.delete("/schedules/<name>")
async def delete_schedule(name: str):
    """Remove a schedule."""
    if not await _toolkit().scheduler.delete(name):
        raise ApiError(404, _("no schedule %(name)s", name=repr(name)))
    return {"deleted": name}


@api.get("/openapi.json")
async def openapi():
    """This document."""
    from quart import current_app

    return openapi_document(current_app)


@pages.get("/")
async def home():
    tk = _toolkit()
    return await render_template(
        "toolkit/home.html", plugins=list(tk.host.infos.values()),
        jobs=await tk.runner.list(limit=10))


def _settings_namespace(namespace: str):
    tk = _toolkit()
    if namespace not in tk.registry.settings:
        raise ApiError(404, _("no settings namespace %(namespace)s", namespace=repr(namespace)))
    return tk.settings


@api.get("/settings/<namespace>")
async def get_settings(namespace: str):
    """A plugin's settings with defaults applied and secrets masked."""
    from toolkit.core.settings import public

    store = _settings_namespace(namespace)
    return {"values": public(await store.get(namespace)),
            "overridden_by_env": store.overridden(namespace)}


@api.post("/settings/<namespace>")
@body(AnyObject)
async def save_settings(namespace: str, body: AnyObject):
    """Validate and save some of a plugin's settings; 422 with field messages when invalid."""
    from toolkit.core.settings import public

    store = _settings_namespace(namespace)
    settings = await store.update(namespace, body.model_extra)
    current_app.extensions["toolkit_auth"].invalidate()  # the access mode may have changed
    return {"values": public(settings), "overridden_by_env": store.overridden(namespace)}


@api.post("/notifications/test")
@declares(502)
async def test_notification():
    """Send a test message to every configured notification URL."""
    notifier = _toolkit().notifier
    result = await notifier.send("test", _("Redriva Toolkit: test"),
                                 _("Notifications work. You will hear from the toolkit here."),
                                 link="/", force=True)
    if not result.targets:
        raise ApiError(422, _("no notification URL is configured"),
                       fields={"urls": _("add at least one Apprise URL")})
    if not result.sent:
        raise ApiError(502, _("the notification could not be delivered"), code="delivery_failed")
    return result.as_dict()


@api.post("/mediaservers/<kind>/test")
@declares(502, 503)
async def test_media_server(kind: str):
    """Ask a configured Jellyfin, Emby or Plex who it is (name and version only: its answer
    body is never passed on)."""
    from toolkit.web.mediaservers import test_connection

    return await test_connection(kind)
