"""Short messages about the symlink plugin's jobs, sent through the host's notifier (Apprise).

Called from the plugin's ``toolkit_job_finished`` hook with each job's final view:

- a scan that completed with problems -> ``problems`` (counts by status, folders, mode);
- a scan whose automatic deletion a guard refused, or that the engine stopped because a
  mount was down / not answering -> ``guard`` (why; nothing was deleted);
- a scan or deletion that failed -> ``failure``;
- a deletion that acted on links -> ``deleted`` (counts, and what Sonarr/Radarr were asked).

Every message is a title and one to three lines, and links to the scan on the page.
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from toolkit.api import gettext as _, ngettext

from ..history import SymlinkProblem, SymlinkScan
from .reasons import reason_text

log = logging.getLogger(__name__)
MAX_PATHS_SHOWN = 2


def _error_text(job) -> str:
    """The job's error as users should read it (a refused request is not a Python crash)."""
    return reason_text((job.error or _("unknown error")).removeprefix("PluginError: "))


def scan_link(scan_id: str) -> str:
    return f"/symlink?tab=scanner&scan={scan_id}"


def _folders(scan: SymlinkScan) -> str:
    paths = list(scan.selected_paths or [])
    shown = ", ".join(paths[:MAX_PATHS_SHOWN])
    more = len(paths) - MAX_PATHS_SHOWN
    return shown + (" " + _("(+%(n)s more)", n=more) if more > 0 else "")


def _origin(scan: SymlinkScan) -> str:
    mode = _("dry run") if scan.mode == "dry-run" else _("real mode")
    return _("scheduled '%(name)s', %(mode)s", name=scan.schedule_name, mode=mode) if scan.schedule_name else mode


async def _scan_of(tk, job) -> SymlinkScan | None:
    async with tk.sessions() as session:
        scan_id = (job.result or {}).get("scan_id") or job.params.get("scan_id")
        if scan_id:
            return await session.get(SymlinkScan, scan_id)
        return (await session.execute(
            select(SymlinkScan).where(SymlinkScan.job_id == job.id))).scalar_one_or_none()


async def _counts_by_status(tk, scan_id: str) -> dict[str, int]:
    async with tk.sessions() as session:
        rows = await session.execute(
            select(SymlinkProblem.status, func.count()).where(
                SymlinkProblem.scan_id == scan_id, SymlinkProblem.ignored.is_(False))
            .group_by(SymlinkProblem.status).order_by(func.count().desc()))
        return dict(rows.all())


async def scan_finished(tk, job) -> None:
    scan = await _scan_of(tk, job)
    notifier = tk.notifier
    if scan is None:
        if job.state == "failed":  # it failed before recording its scan (bad schedule)
            await notifier.send("failure", _("Symlink: scheduled scan failed"), _error_text(job),
                                link="/symlink?tab=schedules")
        return
    link = scan_link(scan.id)
    results = scan.results_json or {}
    if job.state == "failed":
        if results.get("stopped_reason"):
            await notifier.send(
                "guard", _("Symlink: scan stopped by a safety guard"),
                f"{reason_text(results['stopped_reason'])}\n" + _("Nothing was deleted")
                + f" · {_folders(scan)} ({_origin(scan)})",
                link=link)
        else:
            await notifier.send("failure", _("Symlink: scan failed"),
                                f"{_error_text(job)}\n{_folders(scan)} ({_origin(scan)})",
                                link=link)
        return
    if job.state != "completed":
        return  # cancelled by the user, or interrupted: nothing to report
    counts = await _counts_by_status(tk, scan.id)
    if counts:
        total = sum(counts.values())
        by_status = " · ".join(f"{status} {count}" for status, count in counts.items())
        await notifier.send(
            "problems", ngettext("Symlink: %(num)d problem found", "Symlink: %(num)d problems found", total),
            f"{by_status} (" + _("of %(n)s links", n=scan.total_analyzed)
            + f")\n{_folders(scan)} ({_origin(scan)})",
            link=link)
    decision = results.get("auto_delete") or {}
    if decision.get("outcome") == "guard":
        await notifier.send("guard", _("Symlink: automatic deletion stopped"),
                            f"{reason_text(decision.get('reason'))}\n{_folders(scan)} ({_origin(scan)})", link=link)


def _repair_line(repair: dict | None) -> str:
    if not repair:
        return _("Repair: Sonarr/Radarr were not asked (off or not configured)")
    if not repair.get("ok"):
        return _("Repair failed: %(errors)s", errors="; ".join(repair.get("errors") or [_("see the page")])[:200])
    commands = len(repair.get("commands") or [])
    return ngettext("Repair: %(num)d command sent to Sonarr/Radarr (%(policy)s) for %(items)s item(s)",
                    "Repair: %(num)d commands sent to Sonarr/Radarr (%(policy)s) for %(items)s item(s)",
                    commands, policy=repair.get("policy"), items=repair.get("items", 0))


def _media_lines(media: dict | None) -> list[str]:
    """What Jellyfin/Emby/Plex were asked (nothing when none is configured): an unattended
    deletion is where a user learns that a mount stopped the refresh, or that Plex's trash
    was left because it held too much."""
    if not media or media.get("skipped") in ("no media server is configured", "nothing changed"):
        return []
    if media.get("skipped"):
        return [_("Media servers not told: %(reason)s", reason=media["skipped"])]
    lines = []
    for server in media.get("servers") or []:
        line = (_("asked to scan %(n)s folder(s)", n=len(server.get("paths") or [])) if server.get("ok")
                else server.get("error", ""))
        trash = server.get("empty_trash")
        if trash:
            line += "; " + (_("trash not emptied: %(reason)s", reason=trash["skipped"]) if trash.get("skipped")
                            else _("trash emptied (%(n)s items)", n=trash.get("emptied", 0)))
        lines.append(f"{str(server.get('server', '')).capitalize()}: {line}")
    return lines


async def deletion_finished(tk, job) -> None:
    scan_id = job.params.get("scan_id", "")
    link = scan_link(scan_id)
    if job.state == "failed":
        await tk.notifier.send("failure", _("Symlink: deletion failed"), _error_text(job), link=link)
        return
    result = job.result or {}
    deleted, skipped, failed = (result.get(k, 0) for k in ("deleted", "skipped", "failed"))
    if job.state != "completed" or not (deleted or skipped or failed):
        return
    title = ngettext("Symlink: %(num)d link deleted", "Symlink: %(num)d links deleted", deleted)
    body = "\n".join([_("%(skipped)s skipped · %(failed)s failed", skipped=skipped, failed=failed),
                      _repair_line(result.get("repair")), *_media_lines(result.get("media_servers"))])
    await tk.notifier.send("deleted", title, body, link=link)


async def job_finished(tk, job) -> None:
    """Never raises: a notification must not disturb the job runner."""
    try:
        if job.task == "symlink:scan":
            await scan_finished(tk, job)
        elif job.task == "symlink:delete":
            await deletion_finished(tk, job)
    except Exception:
        log.exception("symlink notification for job %s failed", job.id)
