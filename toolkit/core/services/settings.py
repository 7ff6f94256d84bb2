"""Connection settings for Sonarr / Radarr / Lidarr and the repair options.

These pydantic models are meant to be embedded in a plugin's settings schema: the web
page shows their field errors as HTTP 422, and API keys are ``SecretStr`` so they never
appear in logs, reprs or JSON dumps (``model_dump(mode="json")`` gives ``"**********"``).
"""
from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


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
_URL_BASE = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")


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
        key = value.get_secret_value().strip()
        if any(ch.isspace() for ch in key):
            raise ValueError("the API key must not contain spaces")
        return SecretStr(key)

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
    kind: ClassVar[ServiceKind] = ServiceKind.LIDARR


CONNECTION_MODELS: dict[ServiceKind, type[ArrConnection]] = {
    ServiceKind.SONARR: SonarrConnection,
    ServiceKind.RADARR: RadarrConnection,
    ServiceKind.LIDARR: LidarrConnection,
}


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
