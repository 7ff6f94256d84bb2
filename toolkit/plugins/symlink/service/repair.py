"""After links were deleted: ask the host's Sonarr/Radarr connections to repair.

The one place that turns the connections (:func:`toolkit.api.arr_connections`, the settings
every plugin shares) and the symlink settings' policy and path mappings into
the host's repair objects and sums up the outcome, for the CLI and the web's deletion job
alike (the work itself is :func:`toolkit.api.repair_after_cleanup`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from toolkit.api import (ArrConnection, ArrService, PathMapper, RemovedLink, RepairSettings, Toolkit,
                         arr_client, repair_after_cleanup)

from ..settings import SymlinkOwnSettings

MAX_ITEMS_LISTED = 200
# RepairSettings' pacing (a pause between commands, status polls): the services' defaults,
# kind to a busy Sonarr; tests shorten it
PACING: dict[str, float] = {}


# the kinds the repair knows how to ask (Lidarr's albums are not linked by this plugin)
REPAIR_KINDS = ("sonarr", "radarr")


def arr_services(toolkit: Toolkit, settings: SymlinkOwnSettings,
                 connections: Iterable[ArrConnection]) -> list[ArrService]:
    """A service per Sonarr/Radarr connection in use, each with the settings' path
    mappings. The caller closes their clients (``await service.client.aclose()``)."""
    return [ArrService(arr_client(toolkit, connection), PathMapper(settings.path_mappings))
            for connection in connections if connection.kind.value in REPAIR_KINDS]


async def repair_after_deletion(
    toolkit: Toolkit,
    settings: SymlinkOwnSettings,
    removed: Iterable[tuple[str, str]],
    *,
    connections: Iterable[ArrConnection],
    on_progress: Callable[[int, int, str], Any] | None = None,
    should_abort: Callable[[], bool] | None = None,
) -> dict[str, Any] | None:
    """Rescan (and with the ``targeted`` policy search) exactly what the removed
    ``(path, target)`` links held, with the host's ``connections`` in use. ``None`` when
    nothing was asked (nothing removed, policy ``off``, no service configured). Never raises: a failure is in the summary (the
    deletion itself is done)."""
    removed = [RemovedLink(path, target) for path, target in removed]
    if not removed or settings.repair_policy == "off":
        return None
    services = arr_services(toolkit, settings, connections)
    if not services:
        return None
    try:
        report = await repair_after_cleanup(removed, services, RepairSettings(policy=settings.repair_policy, **PACING),
                                            on_progress=on_progress, should_abort=should_abort)
    except Exception as exc:  # the services layer types its errors; anything else too
        return {"policy": settings.repair_policy, "ok": False, "items": 0, "outcomes": {}, "commands": [],
                "errors": [f"{type(exc).__name__}: {exc}"], "unmatched": 0, "item_outcomes": []}
    finally:
        for service in services:
            await service.client.aclose()
    outcomes: dict[str, int] = {}
    for item in report.items:
        outcomes[item.outcome] = outcomes.get(item.outcome, 0) + 1
    return {
        "policy": report.policy, "ok": report.ok, "aborted": report.aborted, "items": len(report.items),
        "outcomes": outcomes,
        "commands": [c.name for c in report.commands_sent()][:50],
        "errors": [str(e.get("message", e)) for e in report.errors][:10],
        "unmatched": len(report.unmatched_links),
        "item_outcomes": [
            {"service": item.service, "item_type": item.item_type, "item_id": item.item_id, "title": item.title,
             "outcome": item.outcome, "note": item.note, "links": item.links, "search_ids": item.search_ids,
             "commands": [{"name": c.name, "fields": c.fields, "command_id": c.command_id, "status": c.status,
                           "message": c.message} for c in item.commands]}
            for item in report.items[:MAX_ITEMS_LISTED]],
    }
