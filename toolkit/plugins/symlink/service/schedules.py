"""Scheduled scans: the symlink plugin's view of the host's :class:`~toolkit.core.schedule.Scheduler`.

A schedule runs the ``symlink:scan`` task with ``{paths, mode, depth, schedule}``; the task
records the scan (marked with the schedule's name) and, in real mode, decides afterwards
whether it may delete (:func:`.deletions.auto_delete`). Here: validation of what the page and
the API send (every field's error at once, nothing saved then), and the list the page shows.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select

from toolkit.api import PluginError, ScheduleError, Toolkit, find_job, normalise_cron
from toolkit.api import gettext as _

from .common import off_loop, settings_of
from .paths import resolve_all
from .records import reconcile_active
from .scans import validate_scan_request
from ..history import SymlinkScan

TASK = "symlink:scan"
FREQUENCIES = ("daily", "weekly", "cron")
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")  # cron 0-6
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,59}$")
TIME_PATTERN = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
DAILY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")
WEEKLY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* ([0-6])$")


def cron_from(data: dict, fields: dict[str, str]) -> str | None:
    """The cron expression for a preset (``daily``/``weekly`` at ``time``, on ``weekday``)
    or a ``cron`` given as is; messages go to ``fields``."""
    frequency = data.get("frequency") or ("cron" if data.get("cron") else "daily")
    if frequency not in FREQUENCIES:
        fields["frequency"] = _("must be one of %(values)s", values=", ".join(FREQUENCIES))
        return None
    if frequency == "cron":
        cron = str(data.get("cron") or "").strip()
    else:
        match = TIME_PATTERN.match(str(data.get("time") or "03:00").strip())
        if not match:
            fields["time"] = _("a time of day as HH:MM, for example 03:30")
            return None
        hour, minute = int(match.group(1)), int(match.group(2))
        cron = f"{minute} {hour} * * *"
        if frequency == "weekly":
            weekday = str(data.get("weekday", "0"))
            if weekday not in {str(i) for i in range(7)}:
                fields["weekday"] = _("choose a day of the week")
                return None
            cron = f"{minute} {hour} * * {weekday}"
    try:
        return normalise_cron(cron)
    except ScheduleError as exc:
        fields["cron"] = exc.fields["cron"] + " " + _("(five fields: minute hour day month weekday)")
        return None


def describe(cron: str) -> str:
    """``daily at 03:00``, ``weekly on Sunday at 04:00``, else the expression itself."""
    if match := DAILY.match(cron):
        return f"daily at {int(match.group(2)):02d}:{int(match.group(1)):02d}"
    if match := WEEKLY.match(cron):
        return (f"weekly on {WEEKDAYS[int(match.group(3))]} at "
                f"{int(match.group(2)):02d}:{int(match.group(1)):02d}")
    return f"cron {cron}"


def form_values(cron: str) -> dict[str, str]:
    """The form's fields for a stored expression (presets recognised)."""
    if match := DAILY.match(cron):
        return {"frequency": "daily", "time": f"{int(match.group(2)):02d}:{int(match.group(1)):02d}",
                "weekday": "0", "cron": cron}
    if match := WEEKLY.match(cron):
        return {"frequency": "weekly", "time": f"{int(match.group(2)):02d}:{int(match.group(1)):02d}",
                "weekday": match.group(3), "cron": cron}
    return {"frequency": "cron", "time": "03:00", "weekday": "0", "cron": cron}


def local_time(value: datetime | None) -> str | None:
    """A UTC time in the server's time zone, which is also the one cron expressions use."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M %Z") if value else None


async def save_schedule(tk: Toolkit, data: dict) -> dict:
    """Create or replace a scan schedule: ``{name, frequency: daily|weekly|cron, time,
    weekday, cron, paths[], mode, verification_depth, enabled, original}`` (``original``:
    the name being edited). 422 with a message per field; nothing saved then."""
    if not isinstance(data, dict):
        raise PluginError(400, _("expected a JSON object"))
    fields: dict[str, str] = {}
    name = str(data.get("name") or "").strip()
    original = str(data.get("original") or "").strip()
    existing = {s.name: s for s in await tk.scheduler.list()}
    if not NAME_PATTERN.match(name):
        fields["name"] = _("1 to 60 letters, digits, spaces, '-', '_' or '.'")
    elif name in existing and (existing[name].task != TASK or name != original):
        fields["name"] = _("another schedule has this name")
    cron = cron_from(data, fields)
    settings = await settings_of(tk)
    mode = data.get("mode", "dry-run")
    depth = data.get("verification_depth", data.get("depth", "basic"))
    raw_paths = data.get("paths") or []
    if isinstance(raw_paths, str):
        raw_paths = [line.strip() for line in raw_paths.splitlines() if line.strip()]
    if not isinstance(raw_paths, list) or not all(isinstance(p, str) for p in raw_paths):
        fields["paths"] = _("a list of folders")
        raw_paths = []
    try:  # the same rules as a scan started by hand (an empty list: the whole media path)
        validate_scan_request({"paths": raw_paths or [settings.media_path], "mode": mode,
                                     "verification_depth": depth})
    except PluginError as exc:
        fields.update({k: v for k, v in (exc.fields or {}).items() if k != "paths"})
    if mode == "real" and not settings.scheduled_deletions and "mode" not in fields:
        fields["mode"] = _("real mode on a schedule needs the opt-in: turn on “Scheduled "
                           "deletions” in Settings first")
    resolved, path_errors = await off_loop(resolve_all, settings.media_path, raw_paths)
    if path_errors:
        fields["paths"] = "; ".join(path_errors.values())
    if fields:
        raise PluginError(422, _("invalid schedule"), fields=fields)
    view = await tk.scheduler.save(
        name, task=TASK, cron=cron, enabled=_truthy(data.get("enabled", True)),
        params={"paths": resolved, "mode": mode, "depth": depth, "schedule": name})
    if original and original != name and original in existing and existing[original].task == TASK:
        await tk.scheduler.delete(original)  # renamed
    return (await _views(tk, [view]))[0]


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "on", "1", "yes")


async def _views(tk: Toolkit, schedules) -> list[dict]:
    job_ids = [s.last_job_id for s in schedules if s.last_job_id]
    async with tk.sessions() as session:
        await reconcile_active(tk, session)  # a running scan's status is its job's
        scans_by_job = {row.job_id: row for row in (await session.execute(
            select(SymlinkScan).where(SymlinkScan.job_id.in_(job_ids)))).scalars()} if job_ids else {}
    views = []
    for s in schedules:
        last_scan = scans_by_job.get(s.last_job_id)
        last_job = await find_job(tk, s.last_job_id)
        params = s.params or {}
        views.append({
            "name": s.name, "cron": s.cron, "description": describe(s.cron), "enabled": s.enabled,
            "paths": list(params.get("paths") or []), "mode": params.get("mode", "dry-run"),
            "depth": params.get("depth", "basic"),
            "next_run_at": s.next_run_at.isoformat() if s.next_run_at else None,
            "next_run": local_time(s.next_run_at),
            "last_run_at": s.last_run_at.isoformat() if s.last_run_at else None,
            "last_run": local_time(s.last_run_at), "last_outcome": s.last_outcome,
            "last_job_id": s.last_job_id,
            "last_job_state": last_job.state if last_job else None,
            "last_job_error": last_job.error if last_job else None,
            "last_scan": last_scan.as_dict() if last_scan else None,
            "form": form_values(s.cron)})
    return views


async def list_schedules(tk: Toolkit) -> list[dict]:
    """The scan schedules with their next run and last result (the scan it produced)."""
    return await _views(tk, [s for s in await tk.scheduler.list() if s.task == TASK])


async def _own(tk: Toolkit, name: str):
    schedule = await tk.scheduler.get(name)
    if schedule is None or schedule.task != TASK:
        raise PluginError(404, _("no scan schedule %(name)s", name=repr(name)))
    return schedule


async def set_enabled(tk: Toolkit, name: str, enabled: bool) -> dict:
    await _own(tk, name)
    return (await _views(tk, [await tk.scheduler.set_enabled(name, enabled)]))[0]


async def delete_schedule(tk: Toolkit, name: str) -> dict:
    await _own(tk, name)
    await tk.scheduler.delete(name)
    return {"deleted": name}
