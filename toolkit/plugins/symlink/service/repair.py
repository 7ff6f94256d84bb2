"""After links were deleted: ask the Sonarr/Radarr of the symlink settings to repair.

The one place that turns :class:`~toolkit.plugins.symlink.settings.SymlinkSettings` into
``toolkit.core.services`` objects and sums up the outcome, for the CLI and the web's
deletion job alike (the work itself is :func:`toolkit.core.services.repair_after_cleanup`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx

from toolkit.core.services import ArrService, PathMapper, RemovedLink, client_for, repair_after_cleanup
from toolkit.core.services.settings import RepairSettings

from ..settings import SymlinkSettings

MAX_ITEMS_LISTED = 200
# RepairSettings' pacing (a pause between commands, status polls): the services' defaults,
# kind to a busy Sonarr; tests shorten it
PACING: dict[str, float] = {}


def arr_services(settings: SymlinkSettings, *, http: httpx.AsyncClient | None = None) -> list[ArrService]:
    """The enabled services that have a host, each with the settings' path mappings.
    The caller closes their clients (``await service.client.aclose()``)."""
    services = []
    for kind in ("sonarr", "radarr"):
        if getattr(settings, f"{kind}_enabled") and getattr(settings, f"{kind}_host"):
            client = client_for(settings.arr_connection(kind), http=http)
            services.append(ArrService(client, PathMapper(settings.path_mappings)))
    return services


async def repair_after_deletion(
    settings: SymlinkSettings,
    removed: Iterable[tuple[str, str]],
    *,
    http: httpx.AsyncClient | None = None,
    on_progress: Callable[[int, int, str], Any] | None = None,
    should_abort: Callable[[], bool] | None = None,
) -> dict[str, Any] | None:
    """Rescan (and with the ``targeted`` policy search) exactly what the removed
    ``(path, target)`` links held. ``None`` when nothing was asked (nothing removed, policy
    ``off``, no service configured). Never raises: a failure is in the summary (the
    deletion itself is done)."""
    removed = [RemovedLink(path, target) for path, target in removed]
    if not removed or settings.repair_policy == "off":
        return None
    services = arr_services(settings, http=http)
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


async def load_settings(database_url: str) -> SymlinkSettings:
    """The symlink settings as the web stores them (``symlink_config``, environment
    overrides ``TOOLKIT_SYMLINK__*`` applied), read through the toolkit's SettingsStore."""
    from toolkit.core.db import create_engine_async, session_factory
    from toolkit.core.hookspecs import SettingsSchema
    from toolkit.core.settings import SettingsStore

    from ..history import SymlinkConfig

    engine = create_engine_async(database_url)
    try:
        schema = SettingsSchema(namespace="symlink", model=SymlinkSettings, title="Symlink manager",
                                table="symlink_config")
        store = SettingsStore(session_factory(engine), {"symlink": schema},
                              {"symlink_config": SymlinkConfig.__table__})
        return await store.get("symlink")  # type: ignore[return-value]
    finally:
        await engine.dispose()
