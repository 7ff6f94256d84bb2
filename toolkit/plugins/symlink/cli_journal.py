"""``redriva-toolkit symlink journal`` and ``symlink restore``: the deletion journal, and
re-creating deleted links from it (confined under ``--root``)."""
from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from toolkit.api import gettext as _

from .cli_scan import EXIT_ERROR, EXIT_OK, _print_media_servers, _refresh_media_servers
from .engine.deletion import restore
from .service.reasons import reason_text


@click.command("journal")
@click.option("--scan", "scan_id", default=None, help="Only this scan's entries.")
@click.option("--state", type=click.Choice(["pending", "deleted", "failed", "restored"]), default=None)
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def journal_command(scan_id, state, limit, as_json) -> None:
    """List the deletion journal (newest last)."""
    from .store import DeletionJournal, open_database

    entries = DeletionJournal(open_database()).entries(scan_id=scan_id, states=(state,) if state else None, limit=limit)
    if as_json:
        for entry in entries:
            click.echo(json.dumps({
                "id": entry.id, "scan_id": entry.scan_id, "path": entry.path, "target": entry.target,
                "status": entry.status, "reason": entry.reason, "size": entry.size, "state": entry.state,
                "journaled_at": entry.journaled_at.isoformat(),
                "deleted_at": entry.deleted_at.isoformat() if entry.deleted_at else None,
                "restored_at": entry.restored_at.isoformat() if entry.restored_at else None,
            }, ensure_ascii=False))
        return
    table = Table(title="Deletion journal")
    for column in ("id", "scan", "state", "status", "path", "target", "when"):
        table.add_column(column)
    for entry in entries:
        when = entry.restored_at or entry.deleted_at or entry.journaled_at
        table.add_row(str(entry.id), entry.scan_id or "", entry.state, entry.status, entry.path, entry.target,
                      when.isoformat(timespec="seconds"))
    Console().print(table)


@click.command("restore")
@click.option("--id", "ids", type=int, multiple=True, help="Journal id to restore; repeatable.")
@click.option("--scan", "scan_id", default=None, help="Restore every link deleted by this scan.")
@click.option("--path", "path_prefix", default=None, help="Restore deleted links under this folder.")
@click.option("--dry-run", is_flag=True, help="Only say what would be restored.")
@click.option("--root", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Folder the links are re-created under; no folder link below it is followed.")
def restore_command(ids, scan_id, path_prefix, dry_run, root) -> None:
    """Re-create deleted links from the journal. Exit 1 if any restore failed."""
    from .store import DeletionJournal, open_database

    if not (ids or scan_id or path_prefix):
        raise click.UsageError(_("choose what to restore: --id, --scan or --path"))
    outcomes = restore(DeletionJournal(open_database()), ids=list(ids) or None, scan_id=scan_id,
                       path_prefix=path_prefix, dry_run=dry_run, root=root)
    for outcome in outcomes:
        click.echo(f"{outcome.outcome:13} {outcome.path} -> {outcome.target}"
                   + (f"  ({reason_text(outcome.reason)})" if outcome.reason else ""))
    click.echo(_("%(restored)s restored, %(skipped)s skipped, %(failed)s failed",
                 **{state: sum(o.outcome == state for o in outcomes) for state in ("restored", "skipped", "failed")}))
    restored = [o.path for o in outcomes if o.outcome == "restored"]
    if restored and not dry_run:
        _print_media_servers(_refresh_media_servers(restored, "Created"))
    sys.exit(EXIT_ERROR if any(o.outcome == "failed" for o in outcomes) else EXIT_OK)
