"""The schedules tab's fragments: list, save, enable and delete scan schedules."""
from __future__ import annotations

from datetime import datetime

from quart import Response, request

from toolkit.api import PluginError, current_toolkit
from toolkit.api import gettext as _

from ..engine.checker import DEPTHS
from ..service import schedules
from ..service.common import settings_of
from .fragments import describe, fragment, pages


NEW_SCHEDULE = {"original": "", "name": "", "frequency": "daily", "time": "03:00", "weekday": "0",
                "cron": "", "paths": "", "mode": "dry-run", "verification_depth": "basic", "enabled": True}


async def schedules_context(edit: str | None = None, form: dict | None = None,
                            errors: dict | None = None, message: str | None = None) -> dict:
    tk = current_toolkit()
    listed = await schedules.list_schedules(tk)
    if form is None:
        taken = {s["name"] for s in listed}
        form = dict(NEW_SCHEDULE, name=next(n for n in (f"nightly {i}" if i > 1 else "nightly"
                                                         for i in range(1, len(taken) + 2)) if n not in taken))
        editing = next((s for s in listed if s["name"] == edit), None) if edit else None
        if editing is not None:
            form.update(editing["form"], original=editing["name"], name=editing["name"],
                        paths="\n".join(editing["paths"]), mode=editing["mode"],
                        verification_depth=editing["depth"], enabled=editing["enabled"])
    settings = await settings_of(tk)
    return {"schedules": listed, "form": form, "errors": errors or {}, "message": message,
            "weekdays": schedules.WEEKDAYS, "depths": DEPTHS, "media_path": settings.media_path,
            "scheduled_deletions": settings.scheduled_deletions,
            "timezone": datetime.now().astimezone().strftime("%Z")}


async def _schedules_panel(**context) -> Response:
    return await fragment("symlink/_schedules.html", **(await schedules_context(**context)))


@pages.post("/symlink/schedules")
async def save_schedule_fragment():
    form = await request.form
    data = {key: form.get(key, "") for key in NEW_SCHEDULE}
    data["enabled"] = "true" in form.getlist("enabled")
    try:
        saved = await schedules.save_schedule(current_toolkit(), data)
    except PluginError as exc:
        return await _schedules_panel(form=data, errors=exc.fields or {"name": exc.message})
    when = describe(saved["cron"])
    return await _schedules_panel(
        message=_("Schedule “%(name)s” saved: %(when)s, next run %(next)s.", name=saved["name"], when=when,
                  next=saved["next_run"]) if saved["next_run"] else
        _("Schedule “%(name)s” saved: %(when)s (disabled).", name=saved["name"], when=when))


@pages.post("/symlink/schedules/<name>/enabled")
async def enable_schedule_fragment(name: str):
    enabled = (await request.form).get("enabled") == "true"
    try:
        await schedules.set_enabled(current_toolkit(), name, enabled)
    except PluginError as exc:
        return await _schedules_panel(message=exc.message)
    return await _schedules_panel(message=_("Schedule “%(name)s” enabled.", name=name) if enabled
                                  else _("Schedule “%(name)s” disabled.", name=name))


@pages.post("/symlink/schedules/<name>/delete")
async def delete_schedule_fragment(name: str):
    try:
        await schedules.delete_schedule(current_toolkit(), name)
    except PluginError as exc:
        return await _schedules_panel(message=exc.message)
    return await _schedules_panel(message=_("Schedule “%(name)s” deleted.", name=name))
