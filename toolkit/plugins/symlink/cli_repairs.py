"""``redriva-toolkit symlink repairs``: the items Sonarr/Radarr were asked to search after a
deletion and where each one is (searching, grabbed, imported, repaired, still missing after
N hours); ``--check`` first looks at their history now, as the schedule does."""
from __future__ import annotations

import json

import click
from rich.console import Console

STATES = ("searching", "grabbed", "imported", "repaired", "missing")
COLOURS = {"repaired": "green", "missing": "red", "imported": "yellow"}


async def _run(check: bool, state: str | None, limit: int) -> tuple[dict | None, dict]:
    from toolkit.api import running_toolkit

    from .service.follow import follow_repairs, follows_page
    from .service.follow_words import follow_note, follow_text

    async with running_toolkit() as toolkit:
        tally = await follow_repairs(toolkit) if check else None
        listing = await follows_page(toolkit, state=state, limit=limit)
        for item in listing["items"]:
            item["text"] = follow_text(item, listing["missing_after_hours"])
            item["note"] = follow_note(item)
        return tally, listing


@click.command("repairs")
@click.option("--check", is_flag=True, help="Read Sonarr/Radarr's history now before listing.")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only the items in this state.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def repairs_command(check: bool, state: str | None, limit: int, as_json: bool) -> None:
    """List the repair searches and their follow-up (newest first)."""
    import asyncio

    from toolkit.api import gettext as _

    tally, listing = asyncio.run(_run(check, state, limit))
    if as_json:
        click.echo(json.dumps({"checked": tally, **listing}, indent=2))
        return
    out = Console(highlight=False)
    if tally is not None:
        out.print(_("Checked %(n)s item(s); %(u)s could not be read.", n=tally["looked"], u=tally["unreachable"]))
    if not listing["items"]:
        out.print(_("No repair search to follow."))
        return
    for item in listing["items"]:
        colour = COLOURS.get(item["state"], "default")
        out.print(f"[{colour}]{item['text']}[/] · {item['service'].capitalize()} · {item['title']} "
                  f"[dim]({(item['requested_at'] or '')[:16].replace('T', ' ')})[/]")
        if item["note"]:
            out.print(f"  [dim]{item['note']}[/]")
