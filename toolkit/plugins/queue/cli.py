"""``redriva-toolkit queue check [--apply] [--yes] [--json FILE]``.

Exit codes: 0 nothing to do, 2 actions planned and not applied, 3 applied, 4 stopped by a
guard (mount down, download-client health error, removal cap), 1 error. The JSON file holds
``plan`` and ``applied`` lists (``app``, ``queue_id``, ``download_id``, ``title``, ``rule``,
``strikes``, ``action``, ``episode_ids``/``movie_id``/``album_ids``, ...)."""
from __future__ import annotations

import asyncio
import json
import sys

import click

from toolkit.api import gettext as _
from toolkit.api import running_toolkit

from . import service
from .engine.plan import EXIT_ERROR, actionable, summary
from .plugin import COMMAND_HELP


def _line(entry: dict) -> str:
    target = f"movie {entry['movie_id']}" if "movie_id" in entry else \
        f"albums {','.join(map(str, entry['album_ids'])) or '?'}" if "album_ids" in entry else \
        f"episodes {','.join(map(str, entry.get('episode_ids') or [])) or '?'}"
    flags = " [protected]" if entry["protected"] else f" [held: {entry['guard']}]" if entry["guard"] else ""
    return (f"{entry['app']:7} #{entry['queue_id']:<6} {entry['rule']:15} {entry['strikes']} strikes  "
            f"{entry['action']:17} {entry['title']} ({target}){flags}")


async def _run(apply: bool, yes: bool) -> dict:
    async with running_toolkit() as tk:
        plan = await service.check(tk, source="cli")
        for error in plan["errors"]:
            click.echo(_("error: %(error)s", error=error), err=True)
        if plan["held"]:
            click.echo(plan["held"], err=True)
        for entry in plan["entries"]:
            click.echo(_line(entry))
        if not plan["entries"]:
            click.echo(_("nothing to do"))
        applied: list[dict] = []
        todo = [e for e in plan["entries"] if actionable(e)]
        if apply and todo and not plan["held"]:
            if yes or click.confirm(_("Apply %(n)s action(s)?", n=len(todo)), default=False, err=True):
                applied = await service.apply(tk, plan["id"], plan["token"])
                for a in applied:
                    click.echo(_("done: %(title)s: %(answer)s", title=a["title"], answer=a["answer"]) if a["ok"]
                               else _("FAILED: %(title)s: %(answer)s", title=a["title"], answer=a["answer"]))
        return summary(plan, applied)


@click.group("queue", help=COMMAND_HELP)
def queue_cli() -> None:
    pass


@queue_cli.command("check")
@click.option("--apply", "apply_", is_flag=True, help="Carry out the plan (asks first).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before applying.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the plan and what was applied to this file.")
def check_cmd(apply_: bool, yes: bool, json_path: str | None) -> None:
    """Check the queues: count strikes, plan, and apply when asked."""
    try:
        result = asyncio.run(_run(apply_, yes))
    except click.exceptions.Abort:
        raise
    except Exception as exc:  # a clear message and exit 1, never a traceback
        click.echo(_("error: %(error)s", error=f"{type(exc).__name__}: {exc}"), err=True)
        sys.exit(EXIT_ERROR)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump({k: result[k] for k in ("plan", "applied", "errors", "held")}, handle,
                      indent=2, default=str)
    sys.exit(result["exit_code"])
