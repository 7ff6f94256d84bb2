"""``redriva-toolkit symlink retarget``: re-point every link of a moved mount, or the broken
links whose file is elsewhere on their mount (``--find-moved``); a dry run by default; or undo
a batch. The same engine and journal as the web's "Moved mount" and "Look for moved files".

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
    """The media path of the settings (stored, or ``TOOLKIT_SYMLINK__MEDIA_PATH``)."""
    import asyncio

    from toolkit.api import running_toolkit

    async def read() -> str:
        async with running_toolkit() as toolkit:
            return (await toolkit.settings.get("symlink")).media_path

    return asyncio.run(read())


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
@click.option("--find-moved", "find_moved_", is_flag=True,
              help="Instead: look for the files of the library's broken links elsewhere on their mount.")
@click.option("--apply", "apply_", is_flag=True, help="Re-point them (default: only show what would change).")
@click.option("--root", type=click.Path(file_okay=False), default=None,
              help="The library folder (default: the media path of the settings); no folder link below it is followed.")
@click.option("--undo", "batch", default=None, help="Point the links of this batch back at their old targets.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def retarget_command(old, new, find_moved_, apply_, root, batch, as_json) -> None:
    """Re-point links after the mount moved: every link under the library whose target is
    under --from, only where the same file exists under --to; or, with --find-moved, each
    broken link whose file (same name, and size when known) is found elsewhere on its mount.
    Journaled; --undo BATCH puts the old targets back."""
    from .engine.mounts import MountMonitor
    from .engine.retarget import retarget_links, undo_retargets
    from .mount_memory import SqlMountMemory
    from .service.retarget_journal import SqlRetargetJournal
    from .store import open_database

    if not batch and (find_moved_ == bool(old or new) or (not find_moved_ and not (old and new))):
        raise click.UsageError("give --from and --to, or --find-moved (or --undo BATCH)")
    out = Console()
    root = root or _media_path()
    engine = open_database()
    journal = SqlRetargetJournal(engine)
    if batch:
        outcomes = undo_retargets(journal.undoable(batch=batch), journal=journal, root=root, fs_timeout=FS_TIMEOUT)
        undone = [o.path for o in outcomes if o.outcome == "undone"]
        _report(out, outcomes, as_json, undone and _tell_media_servers(undone))
        sys.exit(EXIT_ERROR if any(o.outcome == "failed" for o in outcomes) else EXIT_OK)
    monitor = MountMonitor(timeout=5.0, known_mounts=SqlMountMemory(engine).known())
    if find_moved_:
        (changes, summary), kind = _plan_find_moved(out, engine, monitor, root, as_json), "proposal"
    else:
        (changes, summary), kind = _plan_moved_mount(out, monitor, root, old, new, as_json), "prefix"
    if not apply_ or not changes:
        if as_json:
            click.echo(json.dumps({"dry_run": True, **summary}, ensure_ascii=False))
        sys.exit(EXIT_PENDING if changes else EXIT_OK)
    batch = secrets.token_hex(16)
    outcomes = retarget_links(changes, journal=journal, root=root, monitor=monitor, kind=kind, batch=batch,
                              require_broken=kind == "proposal", fs_timeout=FS_TIMEOUT)
    done = [o.path for o in outcomes if o.outcome == "retargeted"]
    _report(out, outcomes, as_json, done and _tell_media_servers(done), batch=batch)
    sys.exit(EXIT_ERROR if any(o.outcome == "failed" for o in outcomes) else EXIT_OK)


def _refuse(message: str) -> None:
    Console(stderr=True).print(f"[red]{message} Nothing re-pointed.[/]")
    sys.exit(EXIT_GUARD)


def _plan_moved_mount(out: Console, monitor, root: str, old: str, new: str, as_json: bool) -> tuple[list, dict]:
    from .engine.moved_mount import plan_prefix
    from .engine.walk import walk_links

    health = monitor.health_of(new, force=True)
    if not health.healthy:
        _refuse(f"The mount {health.mount_point} is down ({health.reason}).")
    errors: list[str] = []
    plan = plan_prefix(walk_links([root], errors, deadline=FS_TIMEOUT), old, new, fs_timeout=FS_TIMEOUT)
    summary = plan.as_dict()
    if not as_json:
        out.print(f"{summary['count']} link(s) would be re-pointed from {plan.old} to {plan.new}; "
                  f"{plan.missing} more point under {plan.old} but their file is not under {plan.new} (left alone).")
        for change in summary["sample"]:
            out.print(f"  {change['path']}: {change['old_target']} -> {change['new_target']}")
    if plan.stopped:
        _refuse(f"The walk stopped early: {plan.stopped}.")
    return plan.changes, summary


def _plan_find_moved(out: Console, engine, monitor, root: str, as_json: bool) -> tuple[list, dict]:
    from .engine.find_moved import broken_links, find_moved
    from .engine.mounttable import lexical_target
    from .engine.walk import walk_links
    from .service.retarget_journal import known_sizes

    links, stopped = broken_links(walk_links([root], [], deadline=FS_TIMEOUT), fs_timeout=FS_TIMEOUT)
    if stopped:
        _refuse(f"The walk stopped early: {stopped}.")
    sizes = known_sizes(engine, [lexical_target(path, target) for path, target in links])
    found = find_moved(links, monitor, sizes=sizes, exclude=[root], fs_timeout=FS_TIMEOUT)
    changes = [c for c in (p.change() for p in found.proposals) if c]
    summary = {"count": len(changes), "broken": len(links), **found.as_dict()}
    if as_json:
        return changes, summary
    out.print(f"{len(changes)} of {len(links)} broken link(s) have their file elsewhere on the mount.")
    for down in found.down:
        out.print(f"[yellow]Not searched: the mount {down['mount_point']} is down ({down['reason']}).[/]")
    if found.index.stopped:
        out.print(f"[yellow]The search stopped early: {found.index.stopped}.[/]")
    for proposal in found.proposals:
        if proposal.new_target:
            out.print(f"  re-point {proposal.path}: {proposal.old_target} -> {proposal.new_target} ({proposal.reason})")
        else:
            out.print(f"  no new place for {proposal.path}: {proposal.reason}")
    return changes, summary


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
        from .cli_scan import _print_media_servers  # late: only when media servers were asked

        _print_media_servers(media_servers)
