"""``redriva-toolkit symlink retarget``: re-point every link of a moved mount (dry run by
default), or undo a batch. The same engine and journal as the web's "Moved mount".

Exit codes: 0 done (or nothing to do), 2 a dry run found links to re-point, 4 refused (the
new mount is down, the walk stopped early), 1 error.
"""
from __future__ import annotations

import json
import secrets
import sys

import click
from rich.console import Console

EXIT_OK, EXIT_ERROR, EXIT_PENDING, EXIT_GUARD = 0, 1, 2, 4
FS_TIMEOUT = 10.0


def _media_path() -> str:
    import asyncio

    from toolkit.core.db import database_url

    from .service.repair import load_settings

    return asyncio.run(load_settings(database_url())).media_path


def _tell_media_servers(paths: list[str]) -> dict:
    import asyncio

    from toolkit.api import refresh_media_servers, running_toolkit

    async def run() -> dict:
        async with running_toolkit() as toolkit:
            return await refresh_media_servers(toolkit, paths)

    try:
        return asyncio.run(run())
    except Exception as exc:  # the links are re-pointed; this is reported, not raised
        return {"ok": False, "skipped": f"{type(exc).__name__}: {exc}", "folders": [], "servers": []}


@click.command("retarget")
@click.option("--from", "old", type=click.Path(), help="The folder the links point under now (the old mount).")
@click.option("--to", "new", type=click.Path(), help="The folder to point them under instead.")
@click.option("--apply", "apply_", is_flag=True, help="Re-point them (default: only show what would change).")
@click.option("--root", type=click.Path(file_okay=False), default=None,
              help="The library folder (default: the media path of the settings); no folder link below it is followed.")
@click.option("--undo", "batch", default=None, help="Point the links of this batch back at their old targets.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def retarget_command(old, new, apply_, root, batch, as_json) -> None:
    """Re-point links after the mount moved: every link under the library whose target is
    under --from, only where the same file exists under --to. Journaled; --undo BATCH puts
    the old targets back."""
    from .engine.mounts import MountMonitor
    from .engine.moved_mount import plan_prefix
    from .engine.retarget import retarget_links, undo_retargets
    from .mount_memory import SqlMountMemory
    from .store import open_database
    from .engine.walk import walk_links
    from .service.retarget_journal import SqlRetargetJournal

    console, out = Console(stderr=True), Console()
    root = root or _media_path()
    engine = open_database()
    journal = SqlRetargetJournal(engine)
    if batch:
        outcomes = undo_retargets(journal.undoable(batch=batch), journal=journal, root=root, fs_timeout=FS_TIMEOUT)
        undone = [o.path for o in outcomes if o.outcome == "undone"]
        _report(out, outcomes, as_json, undone and _tell_media_servers(undone))
        sys.exit(EXIT_ERROR if any(o.outcome == "failed" for o in outcomes) else EXIT_OK)
    if not (old and new):
        raise click.UsageError("give --from and --to (or --undo BATCH)")
    monitor = MountMonitor(timeout=5.0, known_mounts=SqlMountMemory(engine).known())
    health = monitor.health_of(new, force=True)
    if not health.healthy:
        console.print(f"[red]The mount {health.mount_point} is down ({health.reason}): nothing re-pointed.[/]")
        sys.exit(EXIT_GUARD)
    errors: list[str] = []
    plan = plan_prefix(walk_links([root], errors, deadline=FS_TIMEOUT), old, new, fs_timeout=FS_TIMEOUT)
    summary = plan.as_dict()
    if not as_json:
        out.print(f"{summary['count']} link(s) would be re-pointed from {plan.old} to {plan.new}; "
                  f"{plan.missing} more point under {plan.old} but their file is not under {plan.new} (left alone).")
        for change in summary["sample"]:
            out.print(f"  {change['path']}: {change['old_target']} -> {change['new_target']}")
    if plan.stopped:
        console.print(f"[yellow]The walk stopped early: {plan.stopped}. Nothing re-pointed.[/]")
        sys.exit(EXIT_GUARD)
    if not apply_ or not plan.changes:
        if as_json:
            click.echo(json.dumps({"dry_run": True, **summary}, ensure_ascii=False))
        sys.exit(EXIT_PENDING if plan.changes else EXIT_OK)
    batch = secrets.token_hex(16)
    outcomes = retarget_links(plan.changes, journal=journal, root=root, monitor=monitor, kind="prefix",
                              batch=batch, require_broken=False, fs_timeout=FS_TIMEOUT)
    done = [o.path for o in outcomes if o.outcome == "retargeted"]
    _report(out, outcomes, as_json, done and _tell_media_servers(done), batch=batch)
    sys.exit(EXIT_ERROR if any(o.outcome == "failed" for o in outcomes) else EXIT_OK)


def _report(out: Console, outcomes, as_json: bool, media_servers, batch: str | None = None) -> None:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    if as_json:
        click.echo(json.dumps({"batch": batch, "counts": counts, "items": [o.as_dict() for o in outcomes],
                               "media_servers": media_servers or None}, ensure_ascii=False))
        return
    for outcome in outcomes:
        if outcome.outcome not in ("retargeted", "undone"):
            out.print(f"{outcome.outcome:10} {outcome.path}: {outcome.reason}")
    out.print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing changed")
    if batch and counts.get("retargeted"):
        out.print(f"Undo with: redriva-toolkit symlink retarget --undo {batch}")
    if media_servers:
        from .cli import _print_media_servers  # late: cli imports this module

        _print_media_servers(media_servers)
