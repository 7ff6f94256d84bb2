"""The host's own endpoints: health, plugins, jobs, schedules, OpenAPI, and the home page."""
from __future__ import annotations

from quart import Blueprint, jsonify, render_template, request

from toolkit import __version__
from toolkit.core.jobs import JobView
from toolkit.web.errors import ApiError
from toolkit.web.openapi import openapi_document

api = Blueprint("toolkit_api", __name__, url_prefix="/api/toolkit")
pages = Blueprint("toolkit_pages", __name__)


def _toolkit():
    from toolkit.web.app import current_toolkit

    return current_toolkit()


async def json_body() -> dict:
    """The request's JSON object, or a clear 400."""
    data = await request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "expected a JSON object body")
    return data


@api.get("/health")
async def health():
    """Liveness: the app runs and its database answers."""
    from sqlalchemy import text

    tk = _toolkit()
    async with tk.sessions() as session:
        await session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__,
            "plugins": sum(i.status == "loaded" for i in tk.host.infos.values())}


@api.get("/plugins")
async def plugins():
    """Every plugin found: name, version, source, status, hooks and error."""
    return jsonify([i.as_dict() for i in _toolkit().host.infos.values()])


@api.get("/jobs")
async def jobs():
    """Recent jobs, newest first (filters: ``task``, ``limit`` up to 500)."""
    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 500)
    except ValueError:
        raise ApiError(400, "limit must be an integer") from None
    views = await _toolkit().runner.list(task=request.args.get("task") or None, limit=limit)
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
async def tasks():
    """The tasks plugins registered."""
    return jsonify([{"name": t.name, "description": t.description, "keep_last": t.keep_last}
                    for t in _toolkit().registry.tasks.values()])


@api.get("/schedules")
async def schedules():
    """Every schedule with its next run and last outcome."""
    return jsonify([s.as_dict() for s in await _toolkit().scheduler.list()])


@api.post("/schedules")
async def save_schedule():
    """Create or replace a schedule: ``{name, task, cron, params, enabled}``; 422 when invalid."""
    data = await json_body()
    view = await _toolkit().scheduler.save(
        str(data.get("name", "")), task=str(data.get("task", "")),
        cron=str(data.get("cron", "")), params=data.get("params") or {},
        enabled=bool(data.get("enabled", True)))
    return view.as_dict()


@api.post("/schedules/<name>/enabled")
async def enable_schedule(name: str):
    """Enable or disable a schedule: ``{enabled: bool}``."""
    data = await json_body()
    return (await _toolkit().scheduler.set_enabled(name, bool(data.get("enabled")))).as_dict()


@api.delete("/schedules/<name>")
async def delete_schedule(name: str):
    """Remove a schedule."""
    if not await _toolkit().scheduler.delete(name):
        raise ApiError(404, f"no schedule {name!r}")
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
        raise ApiError(404, f"no settings namespace {namespace!r}")
    return tk.settings


@api.get("/settings/<namespace>")
async def get_settings(namespace: str):
    """A plugin's settings with defaults applied and secrets masked."""
    from toolkit.core.settings import public

    store = _settings_namespace(namespace)
    return {"values": public(await store.get(namespace)),
            "overridden_by_env": store.overridden(namespace)}


@api.post("/settings/<namespace>")
async def save_settings(namespace: str):
    """Validate and save some of a plugin's settings; 422 with field messages when invalid."""
    from toolkit.core.settings import public

    store = _settings_namespace(namespace)
    settings = await store.update(namespace, await json_body())
    return {"values": public(settings), "overridden_by_env": store.overridden(namespace)}


@api.post("/notifications/test")
async def test_notification():
    """Send a test message to every configured notification URL."""
    notifier = _toolkit().notifier
    result = await notifier.send("test", "Redriva Toolkit: test",
                                 "Notifications work. You will hear from the toolkit here.",
                                 link="/", force=True)
    if not result.targets:
        raise ApiError(422, "no notification URL is configured",
                       fields={"urls": "add at least one Apprise URL"})
    if not result.sent:
        raise ApiError(502, "the notification could not be delivered", code="delivery_failed")
    return result.as_dict()
