"""Connection settings for Sonarr / Radarr / Lidarr and the repair options.

:class:`ArrConnection` is how the services layer reaches one application (host, port, URL
base...). Where the user keeps them is :class:`ArrSettings`: one host settings namespace per
application (``sonarr``, ``radarr``, ``lidarr``) shared by every plugin, so its environment
overrides are ``TOOLKIT_SONARR__URL``, ``TOOLKIT_SONARR__API_KEY``... (the same mechanism as
the media servers' ``TOOLKIT_JELLYFIN__URL``). API keys are ``SecretStr`` so they never
appear in logs, reprs or JSON dumps (``model_dump(mode="json")`` gives ``"**********"``).
"""
from __future__ import annotations

import ipaddress
import logging
import re
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from toolkit.core.hookspecs import SettingsSchema


class ServiceKind(StrEnum):
    """Which application: ``sonarr``, ``radarr`` or ``lidarr``."""

    SONARR = "sonarr"
    RADARR = "radarr"
    LIDARR = "lidarr"

    @property
    def app_name(self) -> str:
        """The ``appName`` that the application reports in ``system/status``."""
        return self.value.capitalize()

    @property
    def default_port(self) -> int:
        return DEFAULT_PORTS[self]

    @property
    def api_version(self) -> str:
        return "v1" if self is ServiceKind.LIDARR else "v3"


DEFAULT_PORTS = {ServiceKind.SONARR: 8989, ServiceKind.RADARR: 7878, ServiceKind.LIDARR: 8686}

# A host name (RFC 1123 labels, underscores allowed as Docker names use them) or an IP.
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")
log = logging.getLogger(__name__)

_URL_BASE = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")


def api_key(value: SecretStr) -> SecretStr:
    """An *arr API key as pasted: surrounding blanks removed, none inside."""
    key = value.get_secret_value().strip()
    if any(ch.isspace() for ch in key):
        raise ValueError("the API key must not contain spaces")
    return SecretStr(key)


class ArrConnection(BaseModel):
    """How to reach one *arr instance. ``kind`` is fixed by the subclass."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    kind: ClassVar[ServiceKind]

    enabled: bool = False
    host: str = Field("", description="Host name or IP address, without http:// or a port")
    port: int = Field(0, ge=1, le=65535, description="TCP port of the web UI / API")
    api_key: SecretStr = Field(SecretStr(""), description="Settings > General > API Key")
    url_base: str = Field("", description="URL base set in the application, e.g. /sonarr")
    ssl: bool = Field(False, description="Use https")
    timeout: float = Field(15.0, gt=0, le=300, description="Seconds per request")

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: Any) -> Any:
        """The default port depends on the application (also for ``model_validate``)."""
        if isinstance(data, dict) and data.get("port") in (None, ""):
            data = {**data, "port": cls.kind.default_port}
        return data

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        if "://" in value or "/" in value:
            raise ValueError("give only the host name or IP address (no http://, no path); "
                             "use the 'ssl' and 'url_base' fields for the rest")
        candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
        try:
            ipaddress.ip_address(candidate)
            return candidate
        except ValueError:
            pass
        if ":" in value:
            raise ValueError("put the port in the 'port' field, not in the host")
        if not _HOST_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid host name or IP address")
        return value

    @field_validator("url_base")
    @classmethod
    def _normalise_url_base(cls, value: str) -> str:
        value = value.strip().strip("/")
        value = f"/{value}" if value else ""
        if not _URL_BASE.match(value):
            raise ValueError("URL base must look like /sonarr (letters, digits, . _ ~ -)")
        return value

    @field_validator("api_key")
    @classmethod
    def _check_api_key(cls, value: SecretStr) -> SecretStr:
        return api_key(value)

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> "ArrConnection":
        if self.enabled:
            missing = [name for name in ("host", "api_key") if not self._filled(name)]
            if missing:
                raise ValueError(f"{self.kind.app_name} is enabled but {' and '.join(missing)} "
                                 f"{'is' if len(missing) == 1 else 'are'} empty")
        return self

    def _filled(self, name: str) -> bool:
        value = getattr(self, name)
        return bool(value.get_secret_value() if isinstance(value, SecretStr) else value)

    @property
    def base_url(self) -> str:
        """``http(s)://host:port{url_base}`` — the API lives below it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl else 'http'}://{host}:{self.port}{self.url_base}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/{self.kind.api_version}"


class SonarrConnection(ArrConnection):
    """How to reach Sonarr."""

    kind: ClassVar[ServiceKind] = ServiceKind.SONARR


class RadarrConnection(ArrConnection):
    """How to reach Radarr."""

    kind: ClassVar[ServiceKind] = ServiceKind.RADARR


class LidarrConnection(ArrConnection):
    """How to reach Lidarr."""

    kind: ClassVar[ServiceKind] = ServiceKind.LIDARR


CONNECTION_MODELS: dict[ServiceKind, type[ArrConnection]] = {
    ServiceKind.SONARR: SonarrConnection,
    ServiceKind.RADARR: RadarrConnection,
    ServiceKind.LIDARR: LidarrConnection,
}


def server_url(value: str, example: str) -> str:
    """A server's whole address as a user gives it (``http(s)://host[:port][/base]``), without
    its trailing slash; ``""`` stays empty. ``ValueError`` saying what to give otherwise."""
    value = value.strip().rstrip("/")
    if not value:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        raise ValueError(f"give the full address, e.g. {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"give the full address, e.g. {example}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("the address takes no query, fragment or credentials")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        if not _HOST_NAME.match(parts.hostname):
            raise ValueError(f"{parts.hostname!r} is not a valid host name or IP address") from None
    return value


class ArrSettings(BaseModel):
    """One application's connection as the user keeps it (a host settings namespace).

    ``url`` is the whole address (``http://sonarr:8989``, ``https://example.com/sonarr``), as
    for the media servers; :meth:`connection` turns it into the services layer's
    :class:`ArrConnection`. ``enabled`` (default on) lets a user pause a connection without
    losing it: a connection is used when it is enabled and has a URL and a key, so
    ``TOOLKIT_SONARR__URL`` and ``TOOLKIT_SONARR__API_KEY`` alone are enough in a container.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    kind: ClassVar[ServiceKind]

    enabled: bool = Field(True, description="Use this connection (off: kept, not used)")
    url: str = Field("", description="e.g. http://sonarr:8989 (a URL base may follow)")
    # a key goes only to the server it was given for (see toolkit.core.settings)
    api_key: SecretStr = Field(SecretStr(""), description="Settings > General > API Key",
                               json_schema_extra={"bound_to": ["url"]})

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return server_url(value, "http://host:8989")

    @field_validator("api_key")
    @classmethod
    def _check_api_key(cls, value: SecretStr) -> SecretStr:
        return api_key(value)

    @property
    def host(self) -> str:
        """The URL's host name or IP address ("" when no URL is set)."""
        return urlsplit(self.url).hostname or "" if self.url else ""

    @property
    def port(self) -> int:
        """The URL's port (as in any URL, 80 or 443 when it gives none); the application's
        default one while no URL is set."""
        if not self.url:
            return self.kind.default_port
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def configured(self) -> bool:
        return bool(self.enabled and self.url and self.api_key.get_secret_value())

    def url_with(self, host: str, port: int) -> str:
        """This URL moved to ``host:port``, keeping its scheme and URL base (``http`` and
        none when no URL is set): how a form with a host and a port field edits it."""
        parts = urlsplit(self.url) if self.url else None
        host = f"[{host}]" if ":" in host else host
        return f"{parts.scheme if parts else 'http'}://{host}:{port}{parts.path if parts else ''}"

    def connection(self, **overrides: Any) -> ArrConnection:
        """The services layer's connection to this application (whether or not it is
        enabled); raises ``ValueError`` when the URL does not make one."""
        parts = urlsplit(self.url)
        values = {"enabled": True, "host": parts.hostname or "", "port": self.port,
                  "ssl": parts.scheme == "https", "url_base": parts.path,
                  "api_key": self.api_key, **overrides}
        return CONNECTION_MODELS[self.kind](**values)


def _settings_model(kind: ServiceKind) -> type[ArrSettings]:
    """``SonarrSettings``, ``RadarrSettings``, ``LidarrSettings``: the same fields, one kind."""
    return type(f"{kind.app_name}Settings", (ArrSettings,),
                {"__module__": __name__, "__annotations__": {"kind": ClassVar[ServiceKind]},
                 "kind": kind})


ARR_SETTINGS_MODELS: dict[ServiceKind, type[ArrSettings]] = {kind: _settings_model(kind)
                                                             for kind in ServiceKind}

#: the host's settings namespaces, one per application
ARR_SCHEMAS = [SettingsSchema(kind.value, model, title=kind.app_name)
               for kind, model in ARR_SETTINGS_MODELS.items()]


async def configured_arrs(store) -> list[ArrConnection]:
    """The connections in use (enabled, with a URL and a key), read from a
    :class:`~toolkit.core.settings.SettingsStore` (stored values, then ``TOOLKIT_<APP>__*``
    overrides), in the order Sonarr, Radarr, Lidarr. One whose URL makes no connection is
    left out (logged), the others are used."""
    connections = []
    for kind in ServiceKind:
        if kind.value not in store.schemas:
            continue
        settings = await store.get(kind.value)
        if settings.configured:
            try:
                connections.append(settings.connection())
            except ValueError as exc:
                log.warning("%s: its URL makes no connection (%s); it is not used",
                            kind.app_name, exc)
    return connections


class RepairPolicy(StrEnum):
    TARGETED = "targeted"  # rescan + search exactly the affected items
    RESCAN = "rescan"      # rescan the affected items only, no search
    GLOBAL = "global"      # the original script: rescan everything + search all missing
    OFF = "off"            # send nothing


class RepairSettings(BaseModel):
    """What happens in Sonarr/Radarr/Lidarr after links were removed."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    policy: RepairPolicy = RepairPolicy.TARGETED
    search_unmonitored: bool = Field(
        False, description="Also search items the user unmonitored (they are rescanned anyway)")
    rescan_after_dry_run: bool = Field(
        False, description="After a dry run, ask each service for a global rescan like the "
                           "original script did (no search is sent)")
    pace_seconds: float = Field(2.0, ge=0, le=60, description="Pause between two commands")
    poll_interval: float = Field(2.0, gt=0, le=60, description="Seconds between status polls")
    command_timeout: float = Field(
        600.0, gt=0, le=86400, description="Stop waiting for one command after this long")
