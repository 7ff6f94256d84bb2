"""The public plugin API: everything a plugin may use from the host, in one module.

A plugin imports the host only from here (``from toolkit.api import hookimpl, Task, ...``);
every other module of the toolkit is private and may change. What is here:

- declaring things: :data:`hookimpl` and the hook types :class:`Models`, :class:`MenuLink`,
  :class:`Task`, :class:`SettingsSchema`, :class:`Schedule`; :func:`new_metadata` and
  :class:`UTCDateTime` (a column type keeping UTC times on SQLite) for tables;
- the running toolkit: :class:`Toolkit` (``sessions`` for database sessions, ``settings``,
  ``runner`` the job runner, ``notifier``, ``scheduler``, ``http`` the shared HTTP client,
  ``services``), reached by :func:`current_toolkit` in a request, ``ctx.services["toolkit"]``
  in a task (:func:`toolkit_of`), the ``toolkit`` argument of the startup, shutdown and
  job-finished hooks, or :func:`running_toolkit` in a command-line run;
- the web: :func:`json_body`, the route decorators :func:`body`, :func:`query`,
  :func:`declares` and request-model field types (:data:`Name`, :data:`Note`,
  :data:`PathText`, :class:`AnyObject`), :class:`PluginError` (answered as an HTTP error);
- jobs: :class:`JobContext`, :class:`JobView`, :class:`JobCancelled`, :class:`JobConflict`,
  :class:`InvalidParams`, :func:`find_job`; schedules: :func:`normalise_cron`,
  :class:`ScheduleError`; blocking code in a thread: :func:`create_engine_sync`;
- settings: :data:`MASK`, :func:`public_settings`, :func:`field_errors`,
  :class:`SettingsError`;
- Sonarr/Radarr/Lidarr: :func:`arr_connections`, :func:`arr_client`, the connection and
  error types, :class:`ArrSettings` (the host's ``sonarr``/``radarr``/``lidarr`` settings
  namespaces where the user keeps them); their repair after links were removed (:func:`repair_after_cleanup`,
  :class:`ArrService`, :class:`RemovedLink`, :class:`RepairSettings`, :class:`PathMapper`,
  :class:`PathMapping`); found through Docker (:func:`detect_docker_services`,
  :class:`DockerUnavailable`); mounts: :func:`mounts_down`;
- notifications: the host's settings namespace :data:`NOTIFY_NAMESPACE`;
- Jellyfin/Emby/Plex: :func:`refresh_media_servers` (scan exactly the changed folders);
- English and French: :func:`gettext` (import it as ``_``), :func:`ngettext` and :func:`N_`; templates have
  ``_()`` (see ``scripts/translations``);
- :func:`upgrade_database` for a plugin's command line (:func:`upgrade_database_at`
  without a running toolkit), :func:`database_url`, :func:`lazy_command` to register
  one that is imported only when it runs; :func:`utcnow`.

Importing this module is cheap: the names backed by SQLAlchemy, httpx or pydantic are
imported on first use.
"""
from __future__ import annotations

import contextlib
import importlib
from typing import TYPE_CHECKING, Any, AsyncIterator

from toolkit import hookimpl
from toolkit.core.errors import PluginError
from toolkit.core.hookspecs import MenuLink, Models, Schedule, SettingsSchema, Task
from toolkit.core.i18n import N_  # marks a string for the catalog where it is made

if TYPE_CHECKING:  # the same names, imported on first use (see _LAZY)
    from toolkit.core.commands import lazy_command
    from toolkit.core.db import MAX_ID, new_metadata
    from toolkit.core.jobs import InvalidParams, JobCancelled, JobConflict, JobContext, JobView
    from toolkit.core.models import UTCDateTime, utcnow
    from toolkit.core.runtime import Toolkit
    from toolkit.core.services.arr import ArrClient, CommandState
    from toolkit.core.services.errors import ServiceError, ServiceUnreachable
    from toolkit.core.services.settings import (ArrConnection, ArrSettings, LidarrConnection,
                                                RadarrConnection, ServiceKind, SonarrConnection)
    from toolkit.core.settings import MASK, SettingsError, field_errors
    from toolkit.core.settings import public as public_settings
    from toolkit.core.db import create_engine_sync
    from toolkit.core.notify import NAMESPACE as NOTIFY_NAMESPACE
    from toolkit.core.schedule import ScheduleError, normalise_cron
    from toolkit.core.services.pathmap import PathMapper, PathMapping, mappings_text, parse_mappings_text
    from toolkit.core.services.settings import RepairSettings
    from toolkit.core.services.repair import ArrService, RemovedLink, repair_after_cleanup
    from toolkit.core.services.errors import DockerUnavailable
    from toolkit.core.services.docker_detect import detect_services as detect_docker_services
    from toolkit.web.validation import AnyObject, Name, Note, PathText

# Importing this module (every plugin's plugin.py does, and the command line loads every
# plugin) must stay cheap: SQLAlchemy, httpx, pydantic and alembic behind these names cost
# ~0.4 s of CPU and ~35 MiB, which a command such as ``symlink scan`` never needs. So they
# are imported when first used: ``from toolkit.api import Toolkit`` works as before.
_LAZY: dict[str, tuple[str, str]] = {
    "lazy_command": ("toolkit.core.commands", "lazy_command"),  # click
    "MAX_ID": ("toolkit.core.db", "MAX_ID"), "new_metadata": ("toolkit.core.db", "new_metadata"),
    **{name: ("toolkit.core.jobs", name)
       for name in ("InvalidParams", "JobCancelled", "JobConflict", "JobContext", "JobView")},
    "UTCDateTime": ("toolkit.core.models", "UTCDateTime"), "utcnow": ("toolkit.core.models", "utcnow"),
    "Toolkit": ("toolkit.core.runtime", "Toolkit"),
    "ArrClient": ("toolkit.core.services.arr", "ArrClient"),
    "CommandState": ("toolkit.core.services.arr", "CommandState"),
    "ServiceError": ("toolkit.core.services.errors", "ServiceError"),
    "ServiceUnreachable": ("toolkit.core.services.errors", "ServiceUnreachable"),
    **{name: ("toolkit.core.services.settings", name)
       for name in ("ArrConnection", "ArrSettings", "LidarrConnection", "RadarrConnection",
                    "ServiceKind", "SonarrConnection")},
    **{name: ("toolkit.core.settings", name) for name in ("MASK", "SettingsError", "field_errors")},
    "public_settings": ("toolkit.core.settings", "public"),
    "create_engine_sync": ("toolkit.core.db", "create_engine_sync"),
    "ScheduleError": ("toolkit.core.schedule", "ScheduleError"),
    "normalise_cron": ("toolkit.core.schedule", "normalise_cron"),
    "NOTIFY_NAMESPACE": ("toolkit.core.notify", "NAMESPACE"),
    "PathMapping": ("toolkit.core.services.pathmap", "PathMapping"),
    "PathMapper": ("toolkit.core.services.pathmap", "PathMapper"),
    "parse_mappings_text": ("toolkit.core.services.pathmap", "parse_mappings_text"),
    "mappings_text": ("toolkit.core.services.pathmap", "mappings_text"),
    "RepairSettings": ("toolkit.core.services.settings", "RepairSettings"),
    **{name: ("toolkit.core.services.repair", name)
       for name in ("ArrService", "RemovedLink", "repair_after_cleanup")},
    "DockerUnavailable": ("toolkit.core.services.errors", "DockerUnavailable"),
    "detect_docker_services": ("toolkit.core.services.docker_detect", "detect_services"),
    # request-model field types (the web layer's; a route's models use them)
    **{name: ("toolkit.web.validation", name) for name in ("AnyObject", "Name", "Note", "PathText")},
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # once imported, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AnyObject", "ArrClient", "ArrConnection", "ArrService", "ArrSettings", "CommandState",
    "DockerUnavailable", "InvalidParams", "JobCancelled", "JobConflict", "JobContext",
    "JobView", "LidarrConnection", "MASK", "MAX_ID", "MOUNTS_SERVICE", "MenuLink", "Models",
    "NOTIFY_NAMESPACE", "N_", "Name", "Note", "PathMapper", "PathMapping", "PathText",
    "PluginError", "RadarrConnection", "RemovedLink", "RepairSettings", "Schedule",
    "ScheduleError", "ServiceError", "ServiceKind", "ServiceUnreachable", "SettingsError",
    "SettingsSchema", "SonarrConnection", "Task", "Toolkit", "UTCDateTime", "arr_client",
    "arr_connections", "body", "create_engine_sync", "current_toolkit", "database_url",
    "declares", "detect_docker_services", "field_errors", "find_job", "gettext", "hookimpl",
    "json_body", "language", "lazy_command", "mappings_text", "mounts_down", "new_metadata",
    "ngettext", "normalise_cron", "parse_mappings_text", "public_settings", "query", "refresh_media_servers",
    "refresh_media_servers_blocking", "repair_after_cleanup", "running_toolkit", "toolkit_of",
    "upgrade_database", "upgrade_database_at", "utcnow",
]

#: ``toolkit.services[MOUNTS_SERVICE]``: published by a plugin that watches mounts (the
#: symlink plugin); an object with ``async def down() -> list[dict]`` giving one
#: ``{"mount_point", "reason"}`` per mount known to be down right now.
MOUNTS_SERVICE = "mounts"

def current_toolkit() -> Toolkit:
    """The running toolkit of the web app handling the current request."""
    from quart import current_app

    return current_app.extensions["toolkit"]


def gettext(message: str, **values: Any) -> str:
    """``message`` in the interface's language (the request's, else the configured one),
    ``%(name)s`` placeholders filled from ``values``. Import it as ``_`` so that
    ``scripts/translations`` finds the strings; give their French in the catalog."""
    from toolkit.core.i18n import gettext as translate  # the web app makes it follow requests

    return translate(message, **values)


def language() -> str:
    """The language messages are shown in now (``"en"`` or ``"fr"``): the request's, else the
    configured one; a command-line run's from ``TOOLKIT_LANGUAGE``, the setting, ``LANG``."""
    from toolkit.core.i18n import current_language

    return current_language()


def ngettext(singular: str, plural: str, num: int, **values: Any) -> str:
    """:func:`gettext` for a count: ``singular`` or ``plural`` as the language wants for
    ``num``, with ``%(num)d`` and the ``values`` placeholders filled."""
    from toolkit.core.i18n import ngettext as translate

    return translate(singular, plural, num, **values)


def toolkit_of(ctx: JobContext) -> Toolkit:
    """The running toolkit, from inside a task."""
    return ctx.services["toolkit"]


async def find_job(toolkit: Toolkit, job_id: str | None) -> JobView | None:
    """The job's view, or ``None`` when there is no such job (never given, or pruned)."""
    from toolkit.core.jobs import JobNotFound

    if not job_id:
        return None
    try:
        return await toolkit.runner.get(job_id)
    except JobNotFound:
        return None


async def json_body(*, optional: bool = False) -> dict:
    """The current request's JSON object body, or a :class:`PluginError` 400 (not UTF-8,
    not JSON, not an object); ``optional``: an empty body is ``{}``."""
    from toolkit.web.validation import json_object

    return await json_object(optional=optional)


def body(model: type, *, optional: bool = False):
    """Decorator of a route: the JSON body validated by the pydantic ``model`` is passed as
    ``body=`` (400 when not a JSON object, 422 naming each wrong field); the OpenAPI document
    describes it."""
    from toolkit.web.validation import body as validated_body

    return validated_body(model, optional=optional)


def query(model: type):
    """Decorator of a route: the query string validated by ``model`` is passed as ``query=``
    (400 naming each wrong parameter); the OpenAPI document describes it."""
    from toolkit.web.validation import query as validated_query

    return validated_query(model)


def declares(*statuses: int, array: bool = False):
    """Decorator of a route: its success status when not 200 (201, 202), the statuses it
    may answer when something outside the request fails (502 an *arr answered badly, 503
    it cannot be reached); ``array=True`` when its success body is a JSON array."""
    from toolkit.web.validation import declares as declared

    return declared(*statuses, array=array)


@contextlib.asynccontextmanager
async def running_toolkit() -> AsyncIterator[Toolkit]:
    """A toolkit for a command-line run, configured from the environment: database upgraded,
    no background jobs or schedules; stopped on exit."""
    from toolkit.core.runtime import Toolkit

    toolkit = Toolkit()
    await toolkit.start(background=False)
    try:
        yield toolkit
    finally:
        await toolkit.stop()


def database_url() -> str:
    """The toolkit's database URL as the environment configures it (``TOOLKIT_DATABASE_URL``,
    else ``toolkit.db`` in ``TOOLKIT_DATA_DIR``), for a plugin's blocking code outside a
    running toolkit (a child process, a command that needs no :func:`running_toolkit`).
    Imports no SQLAlchemy."""
    from toolkit.core.datadir import database_url as configured

    return configured()


def upgrade_database(toolkit: Toolkit) -> None:
    """Blocking: upgrade the core's and every plugin's tables to their latest revision."""
    from toolkit.core.migrate import upgrade_heads

    upgrade_heads(toolkit.config.database_url, toolkit.registry.models)


def upgrade_database_at(database_url: str, models: list[Models]) -> None:
    """Blocking: upgrade the core's tables and the branches of ``models`` (a plugin's
    :class:`Models`) in the database at ``database_url`` to their latest revision, without
    a running toolkit (code that opens the database itself, e.g. a child process)."""
    from toolkit.core.migrate import upgrade_heads

    upgrade_heads(database_url, models)


async def arr_connections(toolkit: Toolkit) -> list[ArrConnection]:
    """The Sonarr/Radarr/Lidarr connections in use (one per application: enabled, with a URL
    and a key), as the services layer's connection models. They are the host's settings
    namespaces ``sonarr``, ``radarr``, ``lidarr`` (:class:`ArrSettings`; environment
    ``TOOLKIT_SONARR__URL``, ``TOOLKIT_SONARR__API_KEY``...), shared by every plugin; a
    plugin that shows them reads and writes them with ``toolkit.settings``."""
    from toolkit.core.services.settings import configured_arrs

    return await configured_arrs(toolkit.settings)


def arr_client(toolkit: Toolkit, connection: ArrConnection, **options: Any) -> ArrClient:
    """A client for ``connection`` on the toolkit's shared HTTP client (``options``:
    ``retries``, ``backoff``)."""
    from toolkit.core.services.arr import client_for

    return client_for(connection, http=toolkit.http, **options)


async def mounts_down(toolkit: Toolkit) -> list[dict]:
    """Mounts known to be down now (see :data:`MOUNTS_SERVICE`); empty when no plugin
    watches mounts."""
    service = toolkit.services.get(MOUNTS_SERVICE)
    return list(await service.down()) if service is not None else []


async def refresh_media_servers(toolkit: Toolkit, paths: list[str], *, update_type: str = "Modified",
                                scan_mounts: list[dict] = ()) -> dict:
    """After links at ``paths`` were deleted, restored or re-pointed: ask each configured
    Jellyfin/Emby/Plex to scan exactly the folders holding them (one batch per server),
    never while a mount is down (:func:`mounts_down`) nor when the scan that found the links
    saw one degraded (``scan_mounts``: its mount findings, ``{"mount_point", "degraded"}``).
    Returns what was asked of whom, or why nothing was (``skipped``); a server's failure is
    in the result, never raised."""
    from toolkit.core.services.mediaserver import configured_servers, refresh_folders

    servers = await configured_servers(toolkit.settings)
    down = []
    if servers and paths:
        down = [{"mount_point": m["mount_point"], "reason": "degraded (slow) during the scan"}
                for m in scan_mounts if m.get("degraded")] + await mounts_down(toolkit)
    report = await refresh_folders(servers, paths, mounts_down=down, update_type=update_type,
                                   http=toolkit.http)
    return report.as_dict()


def refresh_media_servers_blocking(paths: list[str], *, update_type: str = "Modified",
                                  scan_mounts: list[dict] = ()) -> dict:
    """:func:`refresh_media_servers` for a command line (blocking, no toolkit running): a
    toolkit is started only when a media server is configured; else the same report, from
    one read of the settings (no web stack, no plugins loaded)."""
    import asyncio

    from toolkit.core.services.mediaserver import configured_servers_blocking, refresh_folders

    if not configured_servers_blocking(database_url()):
        return asyncio.run(refresh_folders([], paths, mounts_down=[], update_type=update_type)).as_dict()

    async def run() -> dict:
        async with running_toolkit() as toolkit:
            return await refresh_media_servers(toolkit, paths, update_type=update_type, scan_mounts=scan_mounts)

    return asyncio.run(run())
