"""Tell Jellyfin, Emby and Plex which library folders changed, so they re-scan exactly those.

After links were deleted, restored or re-pointed, a media server learns it on its next
scan, or never (Plex with "scan on change" off). Asking it to scan the whole library is how
libraries get wiped while a mount is down (jellyfin/jellyfin#13204, zurg-public#7): so
the toolkit asks for exactly the folders that changed, and only while no mount is down.

Each server has its own host settings namespace (``jellyfin``, ``emby``, ``plex``; so its
environment overrides are ``TOOLKIT_JELLYFIN__URL``, ``TOOLKIT_JELLYFIN__API_KEY``,
``TOOLKIT_PLEX__TOKEN``...). A server is configured when it has a URL and a key.

The requests (one run = one batch per server):

Jellyfin, Emby
    ``POST {url}/Library/Media/Updated`` with ``{"Updates": [{"Path", "UpdateType"}]}``,
    every folder in one request; ``X-Emby-Token`` header. Answered 204.
Plex
    ``GET {url}/library/sections`` (JSON) to find, for each folder, the library section
    whose location holds it; then ``GET /library/sections/{key}/refresh?path=<folder>``,
    one per folder (Plex takes one path per request), at most :data:`PLEX_MAX_PATHS` per
    section: past that, the section's locations holding the folders are scanned instead.
    ``X-Plex-Token`` header. A folder in no section is reported, not sent.

The toolkit never asks a server to "empty trash": it cannot tell reliably, before asking,
how many items that would remove (see docs/media-servers.md).

Errors never carry the server's answer body (it may echo a token, or be a login page):
only the status code and what to check.
"""
from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from toolkit.core.hookspecs import SettingsSchema
from toolkit.core.services.errors import (
    BadResponse,
    ServiceAuthError,
    ServiceError,
    ServiceTimeout,
    ServiceUnreachable,
)
from toolkit.core.services.pathmap import PathMapper, PathMapping, is_under, parse_mappings_text
from toolkit.core.services.plextrash import DEFAULT_MAX_ITEMS as DEFAULT_TRASH_MAX
from toolkit.core.services.plextrash import empty_trash_if_safe
from toolkit.core.services.settings import server_url

log = logging.getLogger(__name__)

UPDATE_TYPES = ("Created", "Modified", "Deleted")
PLEX_MAX_PATHS = 50  # per section and run; past it the section's locations are scanned


class MediaServerKind(StrEnum):
    JELLYFIN = "jellyfin"
    EMBY = "emby"
    PLEX = "plex"

    @property
    def title(self) -> str:
        return self.value.capitalize()


class MediaServerSettings(BaseModel):
    """One server's connection. Path mappings reuse :class:`PathMapping`: ``arr_prefix`` is
    the path as the media server sees it."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    kind: ClassVar[MediaServerKind]
    secret_field: ClassVar[str] = "api_key"

    url: str = Field("", description="e.g. http://jellyfin:8096 (a base path may follow)")
    path_mappings: list[PathMapping] = Field(
        default_factory=list, description="/path/in/toolkit = /path/in/the/server")
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds per request")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return server_url(value, "http://host:8096")

    @field_validator("path_mappings", mode="before")
    @classmethod
    def _mappings_from_text(cls, value: Any) -> Any:
        return parse_mappings_text(value)

    @property
    def secret(self) -> str:
        return getattr(self, self.secret_field).get_secret_value().strip()

    @property
    def configured(self) -> bool:
        return bool(self.url and self.secret)


def _secret(description: str) -> Any:
    # a key goes only to the server it was given for (see toolkit.core.settings)
    return Field(SecretStr(""), description=description, json_schema_extra={"bound_to": ["url"]})


class JellyfinSettings(MediaServerSettings):
    kind: ClassVar[MediaServerKind] = MediaServerKind.JELLYFIN
    api_key: SecretStr = _secret("Dashboard > API Keys")


class EmbySettings(MediaServerSettings):
    kind: ClassVar[MediaServerKind] = MediaServerKind.EMBY
    api_key: SecretStr = _secret("Settings > Advanced > API Keys")


class PlexSettings(MediaServerSettings):
    kind: ClassVar[MediaServerKind] = MediaServerKind.PLEX
    secret_field: ClassVar[str] = "token"
    token: SecretStr = _secret("X-Plex-Token of the server's owner")
    empty_trash: bool = Field(False, description="After a refresh, empty the trash when it is safe "
                                                 "(every mount healthy, few items: see empty_trash_max)")
    empty_trash_max: int = Field(DEFAULT_TRASH_MAX, ge=0, le=100_000,
                                 description="Most items an automatic empty trash may remove")


SETTINGS_MODELS: dict[MediaServerKind, type[MediaServerSettings]] = {
    MediaServerKind.JELLYFIN: JellyfinSettings,
    MediaServerKind.EMBY: EmbySettings,
    MediaServerKind.PLEX: PlexSettings,
}
#: the host's settings namespaces, one per server
SCHEMAS = [SettingsSchema(kind.value, model, title=kind.title) for kind, model in SETTINGS_MODELS.items()]


async def configured_servers(store) -> list[MediaServerSettings]:
    """The servers with a URL and a key, read from a :class:`~toolkit.core.settings.SettingsStore`
    (stored values, then ``TOOLKIT_<SERVER>__*`` overrides)."""
    servers = []
    for kind in MediaServerKind:
        if kind.value in store.schemas:
            settings = await store.get(kind.value)
            if settings.configured:
                servers.append(settings)
    return servers


def configured_servers_blocking(database_url: str) -> list[MediaServerSettings]:
    """:func:`configured_servers` without a running toolkit (blocking; a command line asks
    before starting one): the same stored values, read with one query, and overrides."""
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from toolkit.core.db import create_engine_sync
    from toolkit.core.models import SettingsRow
    from toolkit.core.settings import settings_of_values

    engine = create_engine_sync(database_url)
    try:
        with engine.connect() as connection:
            stored = dict(connection.execute(select(SettingsRow.namespace, SettingsRow.values).where(
                SettingsRow.namespace.in_([kind.value for kind in MediaServerKind]))).all())
    except (OperationalError, ProgrammingError):  # no settings table yet: nothing was saved
        stored = {}
    finally:
        engine.dispose()
    servers = [settings_of_values(kind.value, model, dict(stored.get(kind.value) or {}))
               for kind, model in SETTINGS_MODELS.items()]
    return [settings for settings in servers if settings.configured]


# -- client --------------------------------------------------------------------------------
class MediaServerClient:
    """Talks to one server on a shared ``httpx.AsyncClient`` (or its own)."""

    def __init__(self, settings: MediaServerSettings, *, http: httpx.AsyncClient | None = None):
        self.settings = settings
        self.kind = settings.kind
        self.mapper = PathMapper(settings.path_mappings)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(follow_redirects=False)

    def __repr__(self) -> str:  # never shows the key
        return f"MediaServerClient({self.kind.value}, {self.settings.url!r})"

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    def _headers(self) -> dict[str, str]:
        token = self.settings.secret
        if self.kind is MediaServerKind.PLEX:
            return {"X-Plex-Token": token, "Accept": "application/json"}
        return {"X-Emby-Token": token, "Accept": "application/json"}

    def _error(self, cls: type[ServiceError], message: str, status: int | None = None) -> ServiceError:
        return cls(f"{self.kind.title} at {self.settings.url}: {message}", service=self.kind.value,
                   url=self.settings.url, status_code=status)

    async def _request(self, method: str, path: str, *, params: dict | None = None,
                       json_body: Any = None) -> httpx.Response:
        url = f"{self.settings.url}{path}"
        try:
            response = await self._http.request(method, url, params=params, json=json_body,
                                                headers=self._headers(), timeout=self.settings.timeout)
        except httpx.TimeoutException as exc:
            raise self._error(ServiceTimeout, f"no answer within {self.settings.timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise self._error(ServiceUnreachable, f"cannot connect ({type(exc).__name__}); is it "
                              "running, and is the address right?") from exc
        code = response.status_code
        if code in (401, 403):
            key = "token" if self.kind is MediaServerKind.PLEX else "API key"
            raise self._error(ServiceAuthError, f"HTTP {code}: the {key} was refused", code)
        if code >= 300:  # the body is not shown: it may echo the token or be a login page
            raise self._error(BadResponse, f"HTTP {code} to {method} {path}", code)
        return response

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._error(BadResponse, f"{what} is not JSON: is this really {self.kind.title}?",
                              response.status_code) from None

    async def test_connection(self) -> dict:
        """Who answers: ``{"ok", "kind", "server_name", "version"}`` (only those fields)."""
        if self.kind is MediaServerKind.PLEX:
            container = self._json(await self._request("GET", "/"), "the answer").get("MediaContainer")
            if not isinstance(container, dict) or "machineIdentifier" not in container:
                raise self._error(BadResponse, "the answer is not a Plex server's")
            name, version = container.get("friendlyName"), container.get("version")
        else:
            info = self._json(await self._request("GET", "/System/Info"), "the answer")
            if not isinstance(info, dict) or "Id" not in info or "Version" not in info:
                raise self._error(BadResponse, f"the answer is not a {self.kind.title} server's")
            name, version = info.get("ServerName"), info.get("Version")
        return {"ok": True, "kind": self.kind.value, "server_name": str(name or "")[:100],
                "version": str(version or "")[:40]}

    async def refresh(self, folders: list[str], update_type: str = "Modified") -> dict:
        """Ask for a scan of ``folders`` (toolkit paths, already deduplicated)."""
        server_paths = [self.mapper.to_arr(folder) for folder in folders]
        if self.kind is MediaServerKind.PLEX:
            return await self._refresh_plex(server_paths)
        await self._request("POST", "/Library/Media/Updated", json_body={
            "Updates": [{"Path": path, "UpdateType": update_type} for path in server_paths]})
        return {"requests": 1, "paths": server_paths, "outside_libraries": []}

    async def _refresh_plex(self, paths: list[str]) -> dict:
        sections = self._plex_sections(
            self._json(await self._request("GET", "/library/sections"), "the library list"))
        by_section: dict[str, list[str]] = {}
        outside = []
        for path in paths:
            key = _section_of(path, sections)
            if key is None:
                outside.append(path)
            else:
                by_section.setdefault(key, []).append(path)
        requests, sent = 1, []
        for key, section_paths in by_section.items():
            if len(section_paths) > PLEX_MAX_PATHS:
                section_paths = sorted({loc for loc in sections[key]
                                        if any(is_under(p, loc) for p in section_paths)})
            for path in section_paths:
                await self._request("GET", f"/library/sections/{key}/refresh", params={"path": path})
                requests += 1
                sent.append(path)
        return {"requests": requests, "paths": sent, "outside_libraries": outside}

    def _plex_sections(self, body: Any) -> dict[str, list[str]]:
        """``{section key: [location paths]}`` from ``/library/sections``."""
        try:
            directories = body["MediaContainer"].get("Directory") or []
            return {str(d["key"]): [str(loc["path"]) for loc in d.get("Location") or []]
                    for d in directories}
        except (KeyError, TypeError, AttributeError):
            raise self._error(BadResponse, "the library list is not shaped like Plex's") from None


def _section_of(path: str, sections: dict[str, list[str]]) -> str | None:
    """The section whose location holds ``path`` (the deepest location wins)."""
    best, depth = None, -1
    for key, locations in sections.items():
        for location in locations:
            if is_under(path, location) and len(location) > depth:
                best, depth = key, len(location)
    return best


# -- one run ---------------------------------------------------------------------------------
def affected_folders(paths: Iterable[str]) -> list[str]:
    """The folders holding ``paths``, each once, a folder inside another listed one dropped
    (a scan of a folder covers what is below it)."""
    folders = sorted({posixpath.dirname(p.rstrip("/")) or "/" for p in paths})
    kept: list[str] = []
    for folder in folders:  # sorted: a parent comes before its children
        if not any(is_under(folder, parent) for parent in kept):
            kept.append(folder)
    return kept


@dataclass
class RefreshReport:
    """What one run asked of each server; ``skipped`` says why nothing was sent."""

    folders: list[str] = field(default_factory=list)
    skipped: str | None = None
    servers: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.skipped is None and all(s["ok"] for s in self.servers)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "folders": self.folders[:200], "skipped": self.skipped,
                "servers": self.servers}


async def refresh_folders(servers: Iterable[MediaServerSettings], paths: Iterable[str], *,
                          mounts_down: list[dict], update_type: str = "Modified",
                          http: httpx.AsyncClient | None = None) -> RefreshReport:
    """Ask every server to scan the folders holding ``paths`` — unless a mount is down:
    a server scanning while the files behind the links are unreachable marks them deleted.
    Never raises for a server's failure: it is in the report."""
    if update_type not in UPDATE_TYPES:
        raise ValueError(f"update_type must be one of {', '.join(UPDATE_TYPES)}")
    report = RefreshReport(folders=affected_folders(paths))
    servers = list(servers)
    if not report.folders or not servers:
        report.skipped = "nothing changed" if not report.folders else "no media server is configured"
        return report
    if mounts_down:
        report.skipped = ("not asked while a mount is down or degraded: "
                          + ", ".join(f"{m['mount_point']} ({m.get('reason', 'down')})" for m in mounts_down))
        log.warning("media servers not refreshed: %s", report.skipped)
        return report
    for settings in servers:
        client = MediaServerClient(settings, http=http)
        entry: dict[str, Any] = {"server": settings.kind.value, "ok": True}
        try:
            entry.update(await client.refresh(report.folders, update_type))
            if isinstance(settings, PlexSettings) and settings.empty_trash:
                entry["empty_trash"] = await _empty_trash(client, settings)
        except ServiceError as exc:
            entry.update(ok=False, error=exc.message)
            log.warning("media server refresh failed: %s", exc.message)
        finally:
            await client.aclose()
        report.servers.append(entry)
    return report


async def _empty_trash(client: MediaServerClient, settings: PlexSettings) -> dict:
    """The refresh was sent: a failure here is the empty trash's, reported beside it."""
    try:
        return await empty_trash_if_safe(client, max_items=settings.empty_trash_max)
    except ServiceError as exc:
        log.warning("Plex trash not emptied: %s", exc.message)
        return {"emptied": 0, "counts": {}, "skipped": f"the trash was not emptied: {exc.message}"}
