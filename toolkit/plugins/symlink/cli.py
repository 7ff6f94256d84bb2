"""``redriva-toolkit symlink scan`` (and ``journal``/``restore``, ``retarget``, ``repairs`` in
:mod:`.cli_journal`, :mod:`.cli_retarget`, :mod:`.cli_repairs`, imported only when run).

Exit codes of ``scan``: 0 no problem, 2 problems found and not deleted, 3 problems
deleted, 4 stopped by a safety guard (a mount down, the mass-deletion threshold, hung
filesystem), 1 error (bad input, missing ffprobe...).

This module imports only what parsing the options and starting the scan process take:
the scan process starts before this one imports what shows the progress, deletes and
prints the report (:mod:`.cli_scan`, rich), so that the two start-ups overlap on two
cores (issue 9 item 5: the whole command on 100k local links).
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from toolkit.api import database_url, lazy_command

from .engine.guard import DEFAULT_MAX_COUNT, DEFAULT_MAX_SHARE
from .engine.model import DEPTHS, ScanOptions
from .engine.probe import PROBERS, ToolMissing, av_available, default_prober, tool_path
from .plugin import COMMAND_HELP
from .scanproc import ScanChild


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
    verdicts = depth != "basic" and not no_cache
    scan_date = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    engine = None  # the database, opened here only to delete (the journal); the scan process
    if mode == "real":  # opens it too (verdict cache, remembered mounts): after this one upgraded it
        from .store import open_database

        engine = open_database()
    # in a child process: one stuck on a hung mount cannot keep this one from exiting
    child = ScanChild(options, database_url=database_url(), migrate=True, verdicts=verdicts, mount_memory=True,
                      prune_verdicts=True, database_required=mode == "real" or verdicts)
    try:
        from .cli_scan import finish_scan

        code = finish_scan(child, options, engine, scan_date=scan_date, mode=mode, json_path=json_path, yes=yes,
                           force=force, max_delete=max_delete, max_delete_share=max_delete_share, repair=repair)
    finally:
        child.close()
    sys.exit(code)
