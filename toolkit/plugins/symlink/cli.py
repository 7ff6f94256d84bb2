"""``redriva-toolkit symlink scan`` (and ``journal``/``restore``, ``retarget``, ``repairs`` in
:mod:`.cli_journal`, :mod:`.cli_retarget`, :mod:`.cli_repairs`, imported only when run).

Exit codes of ``scan``: 0 no problem, 2 problems found and not deleted, 3 problems
deleted, 4 stopped by a safety guard (a mount down, the mass-deletion threshold, hung
filesystem), 1 error (bad input, missing ffprobe...).
"""
from __future__ import annotations

import signal
import sys
import threading
from collections import Counter
from datetime import datetime, timezone

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, SpinnerColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from toolkit.api import gettext as _
from toolkit.api import lazy_command

from .engine.checker import DELETABLE_STATUSES, DEPTHS, Progress, ScanOptions
from .engine.deletion import DEFAULT_MAX_COUNT, DEFAULT_MAX_SHARE, delete_problems, deletion_guard
from .engine.avprobe import av_available, default_prober
from .engine.probe import PROBERS, ToolMissing, tool_path
from .engine.report import ProblemSpool, write_report
from .scanproc import run_scan_in_child
from .plugin import COMMAND_HELP
from .service.reasons import reason_text

EXIT_OK, EXIT_ERROR, EXIT_PROBLEMS, EXIT_DELETED, EXIT_GUARD = 0, 1, 2, 3, 4


def _console() -> Console:
    return Console(stderr=True)


@click.group("symlink", help=COMMAND_HELP)
def symlink_cli() -> None:
    pass


# imported when run: the journal, restore and retarget code stay out of a scan (start-up, memory)
symlink_cli.add_command(lazy_command("retarget", f"{__package__}.cli_retarget:retarget_command",
                                     help="Re-point links after the mount moved (journaled, undoable)."))
symlink_cli.add_command(lazy_command("journal", f"{__package__}.cli_journal:journal_command",
                                     help="List the deletion journal (newest last)."))
symlink_cli.add_command(lazy_command("restore", f"{__package__}.cli_journal:restore_command",
                                     help="Re-create deleted links from the journal."))
symlink_cli.add_command(lazy_command("repairs", f"{__package__}.cli_repairs:repairs_command",
                                     help="List the repair searches: grabbed, imported, repaired or still missing."))


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


@symlink_cli.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("--mode", type=click.Choice(["dry-run", "real"]), default="dry-run", show_default=True)
@click.option("--depth", type=click.Choice(list(DEPTHS)), default="basic", show_default=True,
              help="basic: links only; full: + ffprobe header query; deep: + sampled decoding.")
@click.option("--workers", "-j", type=click.IntRange(1, 64), default=ScanOptions.workers, show_default=True,
              help="Threads checking links (phase 1).")
@click.option("--probe-workers", type=click.IntRange(1, 64), default=None,
              help="Probes at once (phase 2); default: --workers.")
@click.option("--prober", type=click.Choice(list(PROBERS)), default=None,
              help="Depth full: 'av' lists streams with FFmpeg's libraries in long-lived processes (default "
                   "when PyAV is installed); 'ffprobe' runs the original's ffprobe query per file (parity mode).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report (the original's keys) to this file.")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking (real mode).")
@click.option("--force", is_flag=True, help="Override the mass-deletion guard.")
@click.option("--max-delete", type=click.IntRange(0), default=DEFAULT_MAX_COUNT, show_default=True,
              help="Mass-deletion guard: most links deleted without --force.")
@click.option("--max-delete-share", type=click.FloatRange(0, 1), default=DEFAULT_MAX_SHARE, show_default=True,
              help="Mass-deletion guard: largest share of scanned links deleted without --force.")
@click.option("--expected-mount", "expected_mounts", multiple=True, type=click.Path(),
              help="A path that must be a mount point (e.g. /mnt/zurg); repeatable.")
@click.option("--small-files", type=click.Choice(["media", "all"]), default="media", show_default=True,
              help="'all' applies the < 1024 bytes rule to .nfo/.srt too, like the original.")
@click.option("--recheck-days", type=click.FloatRange(0), default=30.0, show_default=True,
              help="Re-probe files whose cached phase-2 verdict is older than this.")
@click.option("--no-cache", is_flag=True, help="Ignore and do not store phase-2 verdicts.")
@click.option("--fs-timeout", type=click.FloatRange(0.1), default=10.0, show_default=True,
              help="Seconds one link's filesystem checks may take before it counts as UNKNOWN.")
@click.option("--mount-timeout", type=click.FloatRange(0.1), default=20.0, show_default=True,
              help="A mount is down (hung) when nothing on it answered for this long while calls were "
                   "pending; the scan then stops within about twice this.")
@click.option("--probe-timeout", type=click.FloatRange(0.1), default=15.0, show_default=True)
@click.option("--repair/--no-repair", default=True, show_default=True,
              help="After a real-mode deletion, ask the Sonarr/Radarr of the toolkit's symlink settings to "
                   "rescan (and, with the targeted policy, search) exactly what was lost.")
def scan_command(paths, mode, depth, workers, probe_workers, prober, json_path, yes, force, max_delete, max_delete_share,
                 expected_mounts, small_files, recheck_days, no_cache, fs_timeout, mount_timeout, probe_timeout,
                 repair) -> None:
    """Scan PATH... for problem symlinks (and, in real mode, delete them reversibly)."""
    console = _console()
    prober = prober or default_prober()
    try:
        # a CORRUPTED link is re-checked with ffprobe before it is deleted (real mode)
        if depth == "deep" or (depth == "full" and (prober == "ffprobe" or mode == "real")):
            tool_path("ffprobe")
            if depth == "deep":
                tool_path("ffmpeg")
        if depth == "full" and prober == "av" and not av_available():
            raise ToolMissing("PyAV is not installed (pip install av): use --prober ffprobe")
    except ToolMissing as exc:
        raise click.ClickException(str(exc)) from None
    options = ScanOptions(
        paths=list(paths), depth=depth, workers=workers, probe_workers=probe_workers, prober=prober,
        expected_mounts=list(expected_mounts),
        small_files=small_files, recheck_age_seconds=recheck_days * 86400, fs_timeout=fs_timeout,
        mount_timeout=mount_timeout, probe_timeout=probe_timeout,
    )
    # the database is opened here only to delete (the journal); the scan's child process
    # opens it for the verdict cache and the remembered mounts
    engine = None
    if mode == "real":
        from .store import open_database

        engine = open_database()
    verdicts = depth != "basic" and not no_cache
    spool = ProblemSpool()
    scan_date = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    with _AbortFlag() as abort:
        result = _scan_with_progress(console, options, spool, abort, verdicts=verdicts,
                                     database_required=mode == "real" or verdicts)
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
                    "scan_id": result.scan_id, "depth": depth, "paths": options.paths, "mounts": result.mounts,
                    "duration_seconds": result.duration_seconds, "cancelled": result.cancelled,
                    "stopped_by": stopped_by, "phase2_estimate": result.phase2_estimate,
                    "walk_errors": result.walk_errors,
                    "deletions": [o.as_dict() for o in outcomes],
                    "repair": repair_summary,
                    "media_servers": media_summary,
                },
            )
    spool.close()
    if deleted:
        sys.exit(EXIT_DELETED)
    if stopped_by:
        sys.exit(EXIT_GUARD)
    sys.exit(EXIT_PROBLEMS if spool.count else EXIT_OK)


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


def _scan_with_progress(console: Console, options: ScanOptions, spool: ProblemSpool, abort, *, verdicts: bool,
                        database_required: bool):
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

        # in a child process: one stuck on a hung mount cannot keep this one from exiting
        return run_scan_in_child(options, on_problem=spool.add, on_progress=on_progress, should_abort=abort,
                                 on_warning=on_warning, migrate=True, verdicts=verdicts, mount_memory=True, prune_verdicts=True,
                                 database_required=database_required)


def _confirm(console: Console, by_status: Counter[str]) -> bool:
    lines = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()) if status in DELETABLE_STATUSES)
    console.print(_("About to delete (links only, journaled, restorable): %(lines)s", lines=lines))
    return click.confirm(_("Delete these links?"), default=False, err=True)


def _delete_with_progress(console, spool, engine, options, abort):
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
