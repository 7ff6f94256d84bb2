"""The page ``/symlink`` (its tabs) and the fragments of its dashboard and scanner: the
folder picker, a scan's progress, its results, the deletion and the journal. The settings
and schedules tabs' fragments are in :mod:`.settings_page` and :mod:`.schedules_page`.
"""
from __future__ import annotations

import os

from quart import Response, request

from toolkit.api import JobConflict, MASK, PluginError, current_toolkit, find_job, mappings_text
from toolkit.api import gettext as _

from . import lives
from ..engine.checker import DELETABLE_STATUSES, DEPTHS
from ..engine.probe import original_estimate
from ..history import ACTIVE_SCAN_STATES, KEEP_SCANS
from ..service import lifecycle, scans
from ..service.common import off_loop, settings_of
from ..service.config import config_body
from ..service.deletions import confirm_delete, deletions_page, restore_deleted
from ..service.directories import directory_level, link_counter
from ..service.paths import resolve_under_media
from ..service.problems import (MAX_PER_PAGE, PROBLEM_FILTERS, ignore_path, parse_page, problems_page,
                                unignore_problem)
from ..settings import SymlinkSettings
from .fragments import STOP_POLLING, fragment, is_htmx, pages
from .schedules_page import schedules_context
from .settings_page import notification_values

__all__ = ["pages"]

TABS = ("dashboard", "scanner", "schedules", "settings")


async def _active_scan_id() -> str | None:
    for scan in await scans.history(current_toolkit(), limit=KEEP_SCANS):
        if scan["status"] in ACTIVE_SCAN_STATES:
            return scan["scan_id"]
    return None


async def tab_context(tab: str) -> dict:
    tk = current_toolkit()
    context: dict = {"tab": tab, "tabs": TABS, "keep_scans": KEEP_SCANS}
    config = await config_body(tk)
    context["config"] = config
    if tab == "dashboard":
        context["history"] = await scans.history(tk)
        context["journal"] = await deletions_page(tk, per_page=10)
        context["active_scan"] = await _active_scan_id()
        context.update(await lives.dashboard_context(request.args.get("lives", "open")))
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
        context["mappings_text"] = mappings_text(config["path_mappings"])
        context["notify"] = await notification_values()
    return context


async def _scan_or_none(scan_id: str | None) -> dict | None:
    if not scan_id:
        return None
    try:
        return await scans.scan_status(current_toolkit(), scan_id)
    except PluginError:
        return None


def _depth_error(depth: str) -> str | None:
    try:
        scans.validate_scan_request({"paths": ["x"], "verification_depth": depth})
    except PluginError as exc:
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
        level = await directory_level(current_toolkit(), request.args.get("path", ""))
        error = None
    except PluginError as exc:
        level, error = None, exc.message
    return await fragment("symlink/_directories.html", level=level, error=error,
                          nested=bool(request.args.get("path")))


@pages.get("/symlink/fragments/count")
async def count_fragment():
    path = request.args.get("path", "")
    media = (await settings_of(current_toolkit())).media_path
    try:
        path = await off_loop(resolve_under_media, media, path)
    except ValueError:
        return await fragment("symlink/_count.html", path=path, count=-1)
    value = link_counter(current_toolkit()).request(path)
    return await fragment("symlink/_count.html", path=path, count=value)


@pages.get("/symlink/fragments/estimate")
async def estimate_fragment():
    """The original's phase-2 planning figure (30 files a minute) for the chosen folders."""
    depth = request.args.get("verification_depth", "basic")
    chosen = request.args.getlist("paths")
    counter = link_counter(current_toolkit())
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
        scan = await scans.start_from(current_toolkit(), data)
    except (PluginError, JobConflict) as exc:
        message = exc.message if isinstance(exc, PluginError) else str(exc)
        fields = exc.fields if isinstance(exc, PluginError) else None
        running = getattr(exc, "extra", {}).get("scan_id") if isinstance(exc, PluginError) else None
        return await fragment("symlink/_error.html", message=message, fields=fields,
                              running_scan=running)
    status = await scans.scan_status(current_toolkit(), scan.id)
    return await fragment("symlink/_scan.html", scan=status,
                          headers={"HX-Push-Url": f"/symlink?tab=scanner&scan={scan.id}"})


@pages.get("/symlink/scans/<scan_id>/progress")
async def progress_fragment(scan_id: str):
    try:
        status = await scans.scan_status(current_toolkit(), scan_id)
    except PluginError as exc:
        return await fragment("symlink/_error.html", status=STOP_POLLING, message=exc.message)
    finished = status["status"] not in ACTIVE_SCAN_STATES
    return await fragment("symlink/_scan.html", status=STOP_POLLING if finished else 200, scan=status)


@pages.post("/symlink/scans/<scan_id>/cancel")
async def cancel_fragment(scan_id: str):
    status = await scans.cancel_scan(current_toolkit(), scan_id)
    return await fragment("symlink/_scan.html", scan=status)


@pages.post("/symlink/scans/<scan_id>/rerun")
async def rerun_fragment(scan_id: str):
    mode = (await request.form).get("mode")
    try:
        scan = await scans.rerun(current_toolkit(), scan_id, mode if mode in ("dry-run", "real") else None)
    except (PluginError, JobConflict) as exc:
        return await fragment("symlink/_error.html", message=getattr(exc, "message", str(exc)))
    return Response("", headers={"HX-Redirect": f"/symlink?tab=scanner&scan={scan.id}"})


async def _results(scan_id: str, args, flash: dict | None = None) -> Response:
    """The results list as filtered in ``args`` (status, ignored, page); ``flash`` says what
    was just done, with its undo."""
    page_number, per_page = parse_page(args)
    status_filter = args.get("status") or ""
    ignored = args.get("ignored", "exclude")
    try:
        scan = await scans.scan_status(current_toolkit(), scan_id)
        problems = await problems_page(current_toolkit(), scan_id, status=status_filter or None,
                                             ignored=ignored, page=page_number, per_page=per_page)
    except PluginError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    media_path = (await settings_of(current_toolkit())).media_path
    deletion = scan.get("deletion") or {}
    async with current_toolkit().sessions() as session:  # each problem's life across scans
        problem_lives = await lives.lives_for(session, [p["path"] for p in problems["items"]])
        life_counts = await lifecycle.state_counts_for_scan(session, scan_id)
    return await fragment("symlink/_results.html", scan=scan, problems=problems, media_path=media_path,
                          lives=problem_lives, life_counts=life_counts,
                          status_filter=status_filter, ignored=ignored, flash=flash,
                          filters=PROBLEM_FILTERS, deletable=DELETABLE_STATUSES,
                          pickable=bool(deletion.get("allowed") and deletion.get("count")
                                        and not deletion.get("running")))


@pages.get("/symlink/scans/<scan_id>/results")
async def results_fragment(scan_id: str):
    return await _results(scan_id, request.args)


@pages.post("/symlink/problems/<int:problem_id>/ignore")
async def ignore_fragment(problem_id: int):
    form = await request.form
    try:
        ignored = await ignore_path(current_toolkit(), problem_id=problem_id)
    except PluginError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    return await _results(form.get("scan_id", ""), form,
                          flash={"ignored": ignored["path"], "problem_id": problem_id})


@pages.post("/symlink/problems/<int:problem_id>/unignore")
async def unignore_fragment(problem_id: int):
    form = await request.form
    try:
        listed = await unignore_problem(current_toolkit(), problem_id)
    except PluginError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    return await _results(form.get("scan_id", ""), form, flash={"listed": listed["path"]})


@pages.get("/symlink/scans/<scan_id>/confirm")
async def confirm_fragment(scan_id: str):
    """The confirmation dialog: every link that would be deleted, paginated."""
    page_number, per_page = parse_page(request.args)
    picked = request.args.get("picked") == "1"  # "Delete the selected links": never "all"
    try:
        selected = _ids(request.args.getlist("ids"))
        scan = await scans.scan_status(current_toolkit(), scan_id)
        problems = await problems_page(
            current_toolkit(), scan_id, deletable_only=True, ids=selected,
            page=1 if selected else page_number, per_page=MAX_PER_PAGE if selected else per_page)
    except PluginError as exc:
        return await fragment("symlink/_error.html", message=exc.message, dialog=True)
    if (picked and not selected) or (selected is not None and not problems["items"]):
        return await fragment("symlink/_error.html", message=_("Tick the links to delete first."), dialog=True)
    if (scan.get("deletion") or {}).get("blocked_reason"):  # e.g. its results are not all saved yet
        return await fragment("symlink/_error.html", message=scan["deletion"]["blocked_reason"], dialog=True)
    return await fragment("symlink/_confirm.html", scan=scan, problems=problems,
                          deletion=scan.get("deletion") or {}, selected=selected)


def _ids(values: list[str]) -> list[int] | None:
    """Problem ids ticked on the page (``None``: no selection, i.e. all)."""
    if not values:
        return None
    try:
        return [int(v) for v in values][:MAX_PER_PAGE]
    except ValueError:
        raise PluginError(400, _("problem ids must be integers")) from None


@pages.post("/symlink/scans/<scan_id>/delete")
async def delete_fragment(scan_id: str):
    form = await request.form
    override = form.get("override") == "yes"
    try:
        selected = _ids(form.getlist("ids"))
        if form.get("picked") == "1" and not selected:
            raise PluginError(400, _("Tick the links to delete first."))
        data = {"ids": selected, "override": override} if selected else \
            {"all": True, "token": form.get("token", ""), "override": override}
        await confirm_delete(current_toolkit(), scan_id, data)
    except (PluginError, JobConflict) as exc:
        return await fragment("symlink/_error.html", message=getattr(exc, "message", str(exc)))
    return await deletion_fragment(scan_id)


@pages.get("/symlink/scans/<scan_id>/deletion")
async def deletion_fragment(scan_id: str):
    tk = current_toolkit()
    try:
        scan = await scans.scan_status(tk, scan_id)
    except PluginError as exc:
        return await fragment("symlink/_error.html", status=STOP_POLLING, message=exc.message)
    deletion = scan.get("deletion") or {}
    job = await find_job(tk, deletion.get("job_id"))
    running = bool(job and job.active)
    return await fragment("symlink/_deletion.html", status=200 if running else STOP_POLLING,
                          scan=scan, job=job, running=running)


@pages.get("/symlink/fragments/journal")
async def journal_fragment():
    page_number, per_page = parse_page(request.args)
    journal = await deletions_page(current_toolkit(), page=page_number, per_page=min(per_page, 10))
    return await fragment("symlink/_journal.html", journal=journal)


@pages.post("/symlink/restore")
async def restore_fragment():
    form = await request.form
    try:
        journal_id = int(form.get("journal_id", ""))
        result = await restore_deleted(current_toolkit(), {"journal_ids": [journal_id]})
        link_counter(current_toolkit()).invalidate()
    except ValueError:
        return await fragment("symlink/_error.html", message=_("Choose a deleted link to restore."))
    except PluginError as exc:
        return await fragment("symlink/_error.html", message=exc.message)
    return await fragment("symlink/_restored.html", item=result["items"][0] if result["items"] else None)
