"""The ``symlink scan`` command once its scan process runs (:mod:`.cli` starts it first):
the progress display, the confirmation, the deletion, the Sonarr/Radarr repair, the
media servers' refresh, the summary and the JSON report. Imported by the command after
the scan process has started, so that importing rich overlaps the scan's own start-up."""
from __future__ import annotations

import signal
import threading
from collections import Counter

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, SpinnerColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from toolkit.api import gettext as _

from .engine.guard import deletion_guard
from .engine.model import DELETABLE_STATUSES, Progress, ScanOptions
from .engine.report import ProblemSpool, write_report
from .scanproc import ScanChild
from .service.reasons import reason_text

EXIT_OK, EXIT_ERROR, EXIT_PROBLEMS, EXIT_DELETED, EXIT_GUARD = 0, 1, 2, 3, 4


def _console() -> Console:
    return Console(stderr=True)


class _AbortFlag:
    """Ctrl-C asks the scan to stop (keeping what it found); a second Ctrl-C quits."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.event.is_set()

    def __enter__(self) -> _AbortFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()


def finish_scan(child: ScanChild, options: ScanOptions, engine, *, scan_date: str, mode: str, json_path: str | None,
                yes: bool, force: bool, max_delete: int, max_delete_share: float, repair: bool) -> int:
    """Follow the scan process ``child`` (started with ``options``) to its end, delete in
    real mode (``engine``: the database, for the journal), report; the command's exit code
    (see :mod:`.cli`)."""
    console = _console()
    spool = ProblemSpool()
    with _AbortFlag() as abort:
        result = _scan_with_progress(console, child, spool, abort)
        statistics = result.statistics
        deletable = sum(n for status, n in spool.by_status.items() if status in DELETABLE_STATUSES)
        stopped_by: str | None = None
        if result.mount_down:
            down = [m for m in result.mounts if m["was_down"]]
            stopped_by = _("mount down: %(mounts)s", mounts="; ".join(
                f"{m['mount_point']} ({reason_text(m['reason'])})" for m in down))
        elif result.stopped_reason:
            stopped_by = reason_text(result.stopped_reason)
        guard = deletion_guard(deletable, statistics["total_analyzed"], max_count=max_delete,
                               max_share=max_delete_share, override=force)
        outcomes = []
        if mode == "real" and deletable:
            if stopped_by:
                console.print("[bold red]" + _("Nothing deleted:") + f"[/] {stopped_by}")
            elif result.cancelled:
                console.print("[yellow]" + _("Scan cancelled: nothing deleted.") + "[/]")
            elif not guard.allowed:
                stopped_by = _("mass-deletion guard: %(reason)s (use --force to override)",
                               reason=reason_text(guard.reason))
                console.print("[bold red]" + _("Nothing deleted:") + f"[/] {stopped_by}")
            elif yes or _confirm(console, spool.by_status):
                if guard.reason:
                    console.print(f"[yellow]{reason_text(guard.reason)}[/]")
                outcomes = _delete_with_progress(console, spool, engine, options, abort)
            else:
                console.print(_("Declined: this run stays a dry run."))
        elif mode == "dry-run" and not guard.allowed:
            console.print("[yellow]" + _("Note:") + "[/] " + _("a real run would stop here: %(reason)s",
                                                          reason=reason_text(guard.reason)))
        deleted = [o.as_dict() for o in outcomes if o.outcome == "deleted"]
        statistics["files_deleted"] = len(deleted)
        repair_summary = None
        if deleted and repair:
            repair_summary = _repair(console, [(d["path"], d["target"]) for d in deleted], abort)
        media_summary = _refresh_media_servers([d["path"] for d in deleted], scan_mounts=result.mounts) \
            if deleted else None
        _print_summary(result, spool, outcomes, stopped_by, repair_summary)
        _print_media_servers(media_summary)
        if json_path:
            write_report(
                json_path, scan_date=scan_date, mode=mode, statistics=statistics, problems=spool,
                deleted_files=deleted,
                extra={
                    "scan_id": result.scan_id, "depth": options.depth, "paths": options.paths,
                    "mounts": result.mounts, "duration_seconds": result.duration_seconds,
                    "cancelled": result.cancelled, "stopped_by": stopped_by,
                    "phase2_estimate": result.phase2_estimate, "walk_errors": result.walk_errors,
                    "deletions": [o.as_dict() for o in outcomes],
                    "repair": repair_summary,
                    "media_servers": media_summary,
                },
            )
    spool.close()
    if deleted:
        return EXIT_DELETED
    if stopped_by:
        return EXIT_GUARD
    return EXIT_PROBLEMS if spool.count else EXIT_OK


def _repair(console: Console, removed: list[tuple[str, str]], abort) -> dict | None:
    """Sonarr/Radarr repair after a deletion, with the settings the web stores."""
    import asyncio

    from toolkit.api import arr_connections, running_toolkit

    from .service.follow import start_following
    from .service.repair import repair_after_deletion

    async def run() -> dict | None:
        async with running_toolkit() as toolkit:
            settings = await toolkit.settings.get("symlink")
            connections = await arr_connections(toolkit)
            with RichProgress(SpinnerColumn(), TextColumn("{task.description}"), console=console,
                              transient=True) as bar:
                task = bar.add_task("asking Sonarr/Radarr to repair", total=None)
                summary = await repair_after_deletion(
                    toolkit, settings, removed, connections=connections, should_abort=abort,
                    on_progress=lambda done, total, message: bar.update(task, description=f"repair: {message}"))
            async with toolkit.sessions() as session:  # followed in their history, like the web's
                await start_following(session, summary, scan_id=None, job_id=None)
                await session.commit()
            return summary

    try:
        return asyncio.run(run())
    except Exception as exc:  # the deletion is done; the repair is reported, not raised
        return {"ok": False, "errors": [f"{type(exc).__name__}: {exc}"], "items": 0, "item_outcomes": []}


def _refresh_media_servers(paths: list[str], update_type: str = "Modified", scan_mounts: list[dict] = ()) -> dict:
    """Jellyfin/Emby/Plex re-scan the folders of the deleted or restored links (the web's
    code path; no toolkit started when none is configured)."""
    from toolkit.api import refresh_media_servers_blocking

    try:
        return refresh_media_servers_blocking(paths, update_type=update_type, scan_mounts=scan_mounts)
    except Exception as exc:  # the deletion is done; this is reported, not raised
        return {"ok": False, "skipped": f"{type(exc).__name__}: {exc}", "folders": [], "servers": []}


def _print_media_servers(summary: dict | None) -> None:
    if not summary or summary.get("skipped") == "no media server is configured":
        return
    out = Console()
    if summary.get("skipped"):
        out.print("[yellow]" + _("Media servers not refreshed:") + f"[/] {reason_text(summary['skipped'])}")
    for server in summary.get("servers", []):
        if server["ok"]:
            out.print(f"[green]{server['server']}:[/] " + _("asked to re-scan %(n)s folder(s)", n=len(server["paths"])))
        else:
            out.print(f"[red]{server['server']}:[/] {server['error']}")
        trash = server.get("empty_trash")
        if trash:
            out.print(f"[yellow]{server['server']}: trash not emptied:[/] {trash['skipped']}" if trash["skipped"]
                      else f"[green]{server['server']}:[/] trash emptied ({trash['emptied']} items)")


def _scan_with_progress(console: Console, child: ScanChild, spool: ProblemSpool, abort):
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeRemainingColumn()]
    with RichProgress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("checking mounts", total=None, rate="")
        current_phase = [""]

        def on_progress(progress: Progress) -> None:
            if progress.phase != current_phase[0]:
                current_phase[0] = progress.phase
                if progress.phase == "phase2":
                    console.print(_("Phase 2: %(text)s", text=progress.message))
                bar.reset(task, total=progress.total)
            counts = " ".join(f"{k}:{v}" for k, v in sorted(progress.counts.items()) if k != "OK")
            bar.update(task, completed=progress.done, total=progress.total,
                       description=f"{progress.phase} {counts}".strip(), rate=f"{progress.rate:,.0f}/s")

        def on_warning(text: str) -> None:
            console.print("[yellow]" + _("No toolkit database (%(text)s): mounts seen by earlier scans are not "
                                         "known to this one.", text=text) + "[/]")

        return child.follow(on_problem=spool.add, on_progress=on_progress, should_abort=abort, on_warning=on_warning)


def _confirm(console: Console, by_status: Counter[str]) -> bool:
    lines = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()) if status in DELETABLE_STATUSES)
    console.print(_("About to delete (links only, journaled, restorable): %(lines)s", lines=lines))
    return click.confirm(_("Delete these links?"), default=False, err=True)


def _delete_with_progress(console, spool, engine, options, abort):
    from .engine.deletion import delete_problems  # real mode only: a dry run never imports it
    from .engine.mounts import MountMonitor
    from .mount_memory import SqlMountMemory
    from .store import DeletionJournal

    journal = DeletionJournal(engine)
    # the re-checks know the mounts earlier scans saw: one gone since the scan keeps its links
    monitor = MountMonitor(timeout=options.mount_timeout, interval=options.mount_check_interval,
                           expected_mounts=options.expected_mounts,
                           known_mounts=SqlMountMemory(engine).known())
    candidates = (p for p in spool if p.status in DELETABLE_STATUSES)
    with RichProgress(SpinnerColumn(), TextColumn("deleting"), MofNCompleteColumn(), console=console,
                      transient=True) as bar:
        task = bar.add_task("deleting", total=None)
        return delete_problems(candidates, journal=journal, scan_id=options.scan_id, should_abort=abort,
                               options=options, monitor=monitor, on_outcome=lambda o: bar.advance(task))


def _print_summary(result, spool: ProblemSpool, outcomes, stopped_by: str | None, repair: dict | None) -> None:
    out = Console()
    stats = result.statistics
    table = Table(title=_("Symlink scan %(id)s (%(seconds)ss)", id=result.scan_id,
                          seconds=f"{result.duration_seconds:.1f}"))
    table.add_column(_("Status"))
    table.add_column(_("Links"), justify="right")
    for label, value in [
        (_("analyzed"), stats["total_analyzed"]), ("OK", stats["phase1_ok"]), ("BROKEN", stats["phase1_broken"]),
        ("INACCESSIBLE", stats["phase1_inaccessible"]), (_("SMALL_FILE (empty files)"), stats["phase1_small"]),
        ("IO_ERROR", stats["phase1_io_error"]), ("ERROR", stats["phase1_error"]),
        (_("UNKNOWN (cannot tell)"), stats["phase1_unknown"] + stats["phase2_unknown"]),
        (_("phase 2 analyzed"), stats["phase2_analyzed"]), ("  " + _("of which from cache"), stats["skipped_cached"]),
        ("CORRUPTED", stats["phase2_corrupted"]), (_("deleted"), sum(o.outcome == "deleted" for o in outcomes)),
    ]:
        table.add_row(label, str(value))
    out.print(table)
    for mount in result.mounts:
        if mount["was_down"]:
            state = _("Mount %(mount)s is not visible:", mount=mount["mount_point"]) \
                if mount["fstype"] in ("not visible", "known") else _("Mount %(mount)s was down:", mount=mount["mount_point"])
            out.print(f"[bold red]{state}[/] {reason_text(mount['reason'])}")
        elif mount.get("degraded"):
            out.print("[yellow]" + _("Mount %(mount)s was slow (degraded):", mount=mount["mount_point"]) + "[/] " + _(
                "median %(median)s ms, p95 %(p95)s ms over %(calls)s calls, %(errors)s failed, %(late)s late",
                median=mount["latency_median_ms"], p95=mount["latency_p95_ms"], calls=mount["calls"],
                errors=mount["errors"], late=mount["late"]))
    skipped = Counter(o.outcome for o in outcomes)
    if outcomes:
        out.print(_("Deletion: %(counts)s", counts=", ".join(f"{n} {k}" for k, n in sorted(skipped.items()))))
    if repair is not None:
        _print_repair(out, repair)
    if result.cancelled:
        out.print("[yellow]" + _("Cancelled: the counts cover what was checked before the stop.") + "[/]")
    if stopped_by:
        out.print("[bold red]" + _("Stopped by a safety guard:") + f"[/] {stopped_by}")


def _print_repair(out: Console, repair: dict) -> None:
    colour = "green" if repair.get("ok") else "red"
    out.print(f"[{colour}]" + _("Sonarr/Radarr repair (%(policy)s):", policy=repair.get("policy", "?")) + "[/] "
              + _("%(n)s items", n=repair.get("items", 0)))
    for item in repair.get("item_outcomes", []):
        commands = ", ".join(c["name"] + (f" ({c['status']})" if c["status"] != "completed" else "")
                             for c in item["commands"]) or _("no command")
        out.print(f"  {item['service']} {item['item_type']} {item['title']}: {item['outcome']} — {commands}"
                  + (f" — {item['note']}" if item["note"] else ""))
    if repair.get("unmatched"):
        out.print("  " + _("%(n)s deleted links belong to no Sonarr/Radarr item", n=repair["unmatched"]))
    for error in repair.get("errors", []):
        out.print("  [red]" + _("error:") + f"[/] {error}")
