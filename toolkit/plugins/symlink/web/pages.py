"""The page ``/symlink`` and its htmx fragments.

One URL serves the whole page or, for an htmx request, only the active tab's panel (``Vary:
HX-Request``); the tab is in the URL (``?tab=scanner``) so reload and the back button work.
Fragments call the same functions as the JSON API (:mod:`.scans`); errors are shown in place.
Progress polls every second and stops with HTTP 286.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from quart import Blueprint, Response, render_template, request

from toolkit.core.jobs import JobConflict, JobNotFound
from toolkit.core.settings import MASK, SettingsError, public
from toolkit.web.errors import ApiError
from toolkit.web.i18n import gettext as _

from ..service import scans, schedules
from ..engine.checker import DELETABLE_STATUSES, DEPTHS
from ..history import ACTIVE_SCAN_STATES, KEEP_SCANS
from ..engine.probe import original_estimate
from .routes import (apply_detected, config_body, detect_services, directory_level, link_counter, save_config,
                     start_from, test_services, toolkit)
from ..settings import SymlinkSettings, check_media_path, format_path_mappings, parse_path_mappings

HERE = Path(__file__).resolve().parent
TABS = ("dashboard", "scanner", "schedules", "settings")
STOP_POLLING = 286
pages = Blueprint("symlink_pages", __name__, template_folder=str(HERE / "templates"),
                  static_folder=str(HERE / "static"), static_url_path="/symlink/static")


@pages.app_template_filter("seconds")
def human_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 0.1:
        return "< 0.1 s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min {seconds:02d} s"


@pages.app_template_filter("word")
def word(value: str | None) -> str:
    """The words for the codes a page shows: modes, depths, scan and job states."""
    words = {"dry-run": _("dry run"), "real": _("real"), "basic": _("basic"), "full": _("full"),
             "deep": _("deep"), "queued": _("queued"), "running": _("running"),
             "cancelling": _("cancelling"), "completed": _("completed"), "cancelled": _("cancelled"),
             "error": _("error"), "interrupted": _("interrupted"), "failed": _("failed"),
             "succeeded": _("succeeded")}
    return words.get(value or "", value or "")


@pages.app_template_filter("when")
def describe(cron: str) -> str:
    """A schedule's time in words (``schedules.describe``, in the page's language)."""
    form = schedules.form_values(cron)
    if form["frequency"] == "daily":
        return _("daily at %(time)s", time=form["time"])
    if form["frequency"] == "weekly":
        day = (_("Sunday"), _("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
               _("Saturday"))[int(form["weekday"])]
        return _("weekly on %(day)s at %(time)s", day=day, time=form["time"])
    return _("cron %(expression)s", expression=cron)


@pages.app_template_filter("under")
def relative_to(path: str, root: str | None) -> str:
    """A link's path as shown in tables: relative to the media path (full path in details)."""
    if root and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1:]
    return path


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-History-Restore-Request") != "true"


async def fragment(template: str, status: int = 200, headers: dict | None = None, **context) -> Response:
    response = Response(await render_template(template, **context), status=status)
    response.headers["Vary"] = "HX-Request"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


async def _active_scan_id() -> str | None:
    for scan in await scans.history(toolkit(), limit=KEEP_SCANS):
        if scan["status"] in ACTIVE_SCAN_STATES:
            return scan["scan_id"]
    return None


async def tab_context(tab: str) -> dict:
    tk = toolkit()
    context: dict = {"tab": tab, "tabs": TABS, "keep_scans": KEEP_SCANS}
    config = await config_body()
    context["config"] = config
    if tab == "dashboard":
        context["history"] = await scans.history(tk)
        context["journal"] = await scans.deletions_page(tk, per_page=10)
        context["active_scan"] = await _active_scan_id()
    elif tab == "scanner":
        scan_id = request.args.get("scan") or await _active_scan_id()
        context["scan"] = await _scan_or_none(scan_id)
        context["depths"] = DEPTHS
        context["ffprobe"] = not bool(_depth_error("full"))
    elif tab == "schedules":
        context.update(await schedules_context(request.args.get("edit")))
    elif tab == "settings":
        context["fields"] = SymlinkSettings.model_fields
        context["mask"] = MASK
        context["mappings_text"] = format_path_mappings(config["path_mappings"])
        context["notify"] = await notification_values()
    return context


async def _scan_or_none(scan_id: str | None) -> dict | None:
    if not scan_id:
        return None
    try:
        return await scans.scan_status(toolkit(), scan_id)
    except ApiError:
        return None


def _depth_error(depth: str) -> str | None:
    try:
        scans.validate_scan_request({"paths": ["x"], "verification_depth": depth})
    except ApiError as exc:
        return (exc.fields or {}).get("verification_depth")
    return None


@pages.get("/symlink")
async def page():
    tab = request.args.get("tab", "dashboard")
    if tab not in TABS:
        tab = "dashboard"
    context = await tab_context(tab)
    if is_htmx():
        return await fragment("symlink/_app.html", **context)
    return await fragment("symlink/page.html", **context)


# ------------------------------------------------------------------------ scanner

@pages.get("/symlink/fragments/directories")
async def directories_fragment():
    try:
        level = await directory_level(request.args.get("path", ""))
        error = None
    except ApiError as exc:
        level, error = None, exc.message
    return await fragment("symlink/_directories.html", level=level, error=error,
                          nested=bool(request.args.get("path")))


@pages.get("/symlink/fragments/count")
async def count_fragment():
    path = request.args.get("path", "")
    media = (await scans.settings_of(toolkit())).media_path
    try:
        path = await scans.off_loop(scans.resolve_under_media, media, path)
    except ValueError:
        return await fragment("symlink/_count.html", path=path, count=-1)
    value = link_counter().request(path)
    return await fragment("symlink/_count.html", path=path, count=value)


@pages.get("/symlink/fragments/estimate")
async def estimate_fragment():
    """The original's phase-2 planning figure (30 files a minute) for the chosen folders."""
    depth = request.args.get("verification_depth", "basic")
    chosen = request.args.getlist("paths")
    counter = link_counter()
    counts = [counter.cached(p) for p in chosen if os.path.isabs(p)]
    known = [c for c in counts if c is not None and c >= 0]
    return await fragment("symlink/_estimate.html", depth=depth, chosen=len(chosen),
                          links=sum(known), complete=len(known) == len(chosen) and chosen,
                          estimate=original_estimate(sum(known)) if known else None,
                          depth_error=_depth_error(depth) if depth != "basic" else None)


@pages.post("/symlink/scan")
async def start_scan_fragment():
    form = await request.form
    data = {"paths": form.getlist("paths"), "mode": form.get("mode", "dry-run"),
            "verification_depth": form.get("verification_depth", "basic")}
    try:
        scan = await start_from(data)
    except (ApiError, JobConflict) as exc:
        message = exc.message if isinstance(exc, ApiError) else str(exc)
        fields = exc.fields if isinstance(exc, ApiError) else None
        running = getattr(exc, "extra", {}).get("scan_id") if isinstance(exc, ApiError) else None
        return await fragment("symlink/_error.html", message=message, fields=fields,
                              running_scan=running)
    status = await scans.scan_status(toolkit(), scan.id)
    return await fragment("symlink/_scan.html", scan=status,
                          headers={"HX-Push-Url": f"/symlink?tab=scanner&scan={scan.id}"})


@pages.get("/symlink/scans/<scan_id>/progress")
async def progress_fragment(scan_id: str):
    try:
        status = await scans.scan_status(toolkit(), scan_id)
    except ApiError as exc:
        return await fragment("symlink/_error.html", status=STOP_POLLING, message=exc.message)
    finished = status["status"] not in ACTIVE_SCAN_STATES
    return await fragment("symlink/_scan.html", status=STOP_POLLING if finished else 200, scan=status)


@pages.post("/symlink/scans/<scan_id>/cancel")
async def cancel_fragment(scan_id: str):
    status = await scans.cancel_scan(toolkit(), scan_id)
    return await fragment("symlink/_scan.html", scan=status)


@pages.post("/symlink/scans/<scan_id>/rerun")
async def rerun_fragment(scan_id: str):
    mode = (await request.form).get("mode")
    try:
        scan = await scans.rerun(toolkit(), scan_id, mode if mode in ("dry-run", "real") else None)
    except (ApiError, JobConflict) as exc:
        return await fragment("symlink/_error.html", message=getattr(exc, "message", str(exc)))
    return Response("", headers={"HX-Redirect": f"/symlink?tab=scanner&scan={scan.id}"})


async def _results(scan_id: str, args, flash: dict | None = None) -> Response:
    """The results list as filtered in ``args`` (status, ignored, page); ``flash`` says what
    was just done, with its undo."""
    page_number, per_page = scans.parse_page(args)
    status_filter = args.get("status") or ""
    ignored = args.get("ignored", "exclude")
    try:
        scan = await scans.scan_status(toolkit(), scan_id)
        problems = await scans.problems_page(toolkit(), scan_id, status=status_filter or None,
                                             ignored=ignored, page=page_number, per_page=per_page)
    except ApiError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    media_path = (await scans.settings_of(toolkit())).media_path
    deletion = scan.get("deletion") or {}
    return await fragment("symlink/_results.html", scan=scan, problems=problems, media_path=media_path,
                          status_filter=status_filter, ignored=ignored, flash=flash,
                          filters=scans.PROBLEM_FILTERS, deletable=DELETABLE_STATUSES,
                          pickable=bool(deletion.get("allowed") and deletion.get("count")
                                        and not deletion.get("running")))


@pages.get("/symlink/scans/<scan_id>/results")
async def results_fragment(scan_id: str):
    return await _results(scan_id, request.args)


@pages.post("/symlink/problems/<int:problem_id>/ignore")
async def ignore_fragment(problem_id: int):
    form = await request.form
    try:
        ignored = await scans.ignore_path(toolkit(), problem_id=problem_id)
    except ApiError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    return await _results(form.get("scan_id", ""), form,
                          flash={"ignored": ignored["path"], "problem_id": problem_id})


@pages.post("/symlink/problems/<int:problem_id>/unignore")
async def unignore_fragment(problem_id: int):
    form = await request.form
    try:
        listed = await scans.unignore_problem(toolkit(), problem_id)
    except ApiError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    return await _results(form.get("scan_id", ""), form, flash={"listed": listed["path"]})


@pages.get("/symlink/scans/<scan_id>/confirm")
async def confirm_fragment(scan_id: str):
    """The confirmation dialog: every link that would be deleted, paginated."""
    page_number, per_page = scans.parse_page(request.args)
    picked = request.args.get("picked") == "1"  # "Delete the selected links": never "all"
    try:
        selected = _ids(request.args.getlist("ids"))
        scan = await scans.scan_status(toolkit(), scan_id)
        problems = await scans.problems_page(
            toolkit(), scan_id, deletable_only=True, ids=selected,
            page=1 if selected else page_number, per_page=scans.MAX_PER_PAGE if selected else per_page)
    except ApiError as exc:
        return await fragment("symlink/_error.html", message=exc.message, dialog=True)
    if (picked and not selected) or (selected is not None and not problems["items"]):
        return await fragment("symlink/_error.html", message=_("Tick the links to delete first."), dialog=True)
    return await fragment("symlink/_confirm.html", scan=scan, problems=problems,
                          deletion=scan.get("deletion") or {}, selected=selected)


def _ids(values: list[str]) -> list[int] | None:
    """Problem ids ticked on the page (``None``: no selection, i.e. all)."""
    if not values:
        return None
    try:
        return [int(v) for v in values][:scans.MAX_PER_PAGE]
    except ValueError:
        raise ApiError(400, "problem ids must be integers") from None


@pages.post("/symlink/scans/<scan_id>/delete")
async def delete_fragment(scan_id: str):
    form = await request.form
    override = form.get("override") == "yes"
    try:
        selected = _ids(form.getlist("ids"))
        if form.get("picked") == "1" and not selected:
            raise ApiError(400, _("Tick the links to delete first."))
        data = {"ids": selected, "override": override} if selected else \
            {"all": True, "token": form.get("token", ""), "override": override}
        await scans.confirm_delete(toolkit(), scan_id, data)
    except (ApiError, JobConflict) as exc:
        return await fragment("symlink/_error.html", message=getattr(exc, "message", str(exc)))
    return await deletion_fragment(scan_id)


@pages.get("/symlink/scans/<scan_id>/deletion")
async def deletion_fragment(scan_id: str):
    tk = toolkit()
    try:
        scan = await scans.scan_status(tk, scan_id)
    except ApiError as exc:
        return await fragment("symlink/_error.html", status=STOP_POLLING, message=exc.message)
    deletion = scan.get("deletion") or {}
    job = None
    if deletion.get("job_id"):
        try:
            job = await tk.runner.get(deletion["job_id"])
        except JobNotFound:
            job = None
    running = bool(job and job.active)
    return await fragment("symlink/_deletion.html", status=200 if running else STOP_POLLING,
                          scan=scan, job=job, running=running)


@pages.get("/symlink/fragments/journal")
async def journal_fragment():
    page_number, per_page = scans.parse_page(request.args)
    journal = await scans.deletions_page(toolkit(), page=page_number, per_page=min(per_page, 10))
    return await fragment("symlink/_journal.html", journal=journal)


@pages.post("/symlink/restore")
async def restore_fragment():
    form = await request.form
    try:
        journal_id = int(form.get("journal_id", ""))
        result = await scans.restore_deleted(toolkit(), {"journal_ids": [journal_id]})
        link_counter().invalidate()
    except ValueError:
        return await fragment("symlink/_error.html", message=_("Choose a deleted link to restore."))
    except ApiError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    return await fragment("symlink/_restored.html", item=result["items"][0] if result["items"] else None)


# ------------------------------------------------------------------------ settings

def _form_changes(form) -> tuple[dict, dict]:
    """The settings the form sends, and a message per field that cannot even be parsed."""
    changes: dict = {}
    errors: dict = {}
    for name, field in SymlinkSettings.model_fields.items():
        if name not in form:
            continue
        values = form.getlist(name)
        if field.annotation is bool:
            changes[name] = "true" in values or "on" in values
        elif name == "path_mappings":
            try:
                changes[name] = parse_path_mappings(values[-1])
            except ValueError as exc:
                errors[name] = str(exc)
        else:
            changes[name] = values[-1]
    return changes, errors


async def save_valid(changes: dict, errors: dict):
    """Save every valid field; a wrong one is reported and left out, so a field fixed or
    changed later is still saved while another still holds a mistake."""
    for _attempt in range(2):
        try:
            return await save_config(changes), errors
        except SettingsError as exc:
            for name, message in exc.fields.items():  # "path_mappings.0.arr_prefix" -> its field
                field = name.split(".")[0]
                errors[field] = f"{errors[field]}; {message}" if field in errors else message
            changes = {k: v for k, v in changes.items() if k not in errors}
    return await scans.settings_of(toolkit()), errors


@pages.post("/symlink/settings")
async def save_settings_fragment():
    form = await request.form
    changes, errors = _form_changes(form)
    settings, errors = await save_valid({k: v for k, v in changes.items() if k not in errors}, errors)
    # the warning under the media path follows the value just saved
    problem = await scans.off_loop(check_media_path, settings.media_path)
    return await fragment("symlink/_save_state.html", errors=errors, values=public(settings),
                          fields=SymlinkSettings.model_fields, changed=form.get("_changed"),
                          config={"media_path_problem": problem})


@pages.post("/symlink/settings/test/<kind>")
async def test_service_fragment(kind: str):
    if kind not in ("sonarr", "radarr"):
        return await fragment("symlink/_error.html", message=_("Unknown service."))
    try:
        result = (await test_services([kind]))[kind]
    except ApiError as exc:
        result = {"ok": False, "message": exc.message}
    return await fragment("symlink/_service_test.html", kind=kind, result=result)


@pages.post("/symlink/settings/detect")
async def detect_fragment():
    try:
        found, error = await detect_services(), None
    except ApiError as exc:
        found, error = None, exc.message
    except Exception as exc:  # Docker answered something unexpected: say so, change nothing
        found, error = None, _("Docker detection failed: %(error)s", error=exc)
    return await fragment("symlink/_detect.html", found=found, error=error)



@pages.post("/symlink/settings/detect/apply")
async def apply_detected_fragment():
    form = await request.form
    try:
        await apply_detected(form.get("container_id", ""))
    except (ApiError, SettingsError) as exc:
        message = exc.message if isinstance(exc, ApiError) else str(exc)
        return await fragment("symlink/_error.html", message=message)
    return Response("", headers={"HX-Redirect": "/symlink?tab=settings"})


# ------------------------------------------------------------------------ schedules

NEW_SCHEDULE = {"original": "", "name": "", "frequency": "daily", "time": "03:00", "weekday": "0",
                "cron": "", "paths": "", "mode": "dry-run", "verification_depth": "basic", "enabled": True}


async def schedules_context(edit: str | None = None, form: dict | None = None,
                            errors: dict | None = None, message: str | None = None) -> dict:
    tk = toolkit()
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
    settings = await scans.settings_of(tk)
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
        saved = await schedules.save_schedule(toolkit(), data)
    except ApiError as exc:
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
        await schedules.set_enabled(toolkit(), name, enabled)
    except ApiError as exc:
        return await _schedules_panel(message=exc.message)
    return await _schedules_panel(message=_("Schedule “%(name)s” enabled.", name=name) if enabled
                                  else _("Schedule “%(name)s” disabled.", name=name))


@pages.post("/symlink/schedules/<name>/delete")
async def delete_schedule_fragment(name: str):
    try:
        await schedules.delete_schedule(toolkit(), name)
    except ApiError as exc:
        return await _schedules_panel(message=exc.message)
    return await _schedules_panel(message=_("Schedule “%(name)s” deleted.", name=name))


# ------------------------------------------------------------------------ notifications

NOTIFY_FIELDS = ("urls", "on_problems", "on_deleted", "on_guard", "on_failure")


def url_hint(url: str) -> str:
    """A stored Apprise URL as shown: its scheme and host when the host is a name or an
    address; a host that is really a token (``tgram://<bot token>/...``) stays hidden."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    if not (host == "localhost" or "." in host):
        host, port = "…", ""
    return f"{parts.scheme}://{host}{port}/…"


async def notification_values() -> dict:
    from toolkit.core.notify import NAMESPACE, url_lines

    tk = toolkit()
    settings = await tk.settings.get(NAMESPACE)
    return {**public(settings), "overridden_by_env": tk.settings.overridden(NAMESPACE),
            "hints": [url_hint(url) for url in url_lines(settings.urls.get_secret_value())]}


@pages.post("/symlink/settings/notifications")
async def save_notifications_fragment():
    from toolkit.core.notify import NAMESPACE

    form = await request.form
    changes: dict = {}
    for name in NOTIFY_FIELDS:
        if name in form:
            values = form.getlist(name)
            changes[name] = values[-1] if name == "urls" else "true" in values
    try:
        await toolkit().settings.update(NAMESPACE, changes)
        errors: dict = {}
    except SettingsError as exc:
        errors = {name.split(".")[0]: message for name, message in exc.fields.items()}
    return await fragment("symlink/_notify_state.html", errors=errors, fields=("urls",))


@pages.post("/symlink/settings/notifications/test")
async def test_notification_fragment():
    result = await toolkit().notifier.send(
        "test", _("Redriva Toolkit: test"),
        _("Notifications work: scheduled scans will report here."), link="/symlink?tab=settings",
        force=True)
    return await fragment("symlink/_notify_test.html", result=result)
