"""The symlink plugin's settings (stored in the seed's ``symlink_config`` table, one row).

The model checks the *form* of each value. Whether ``media_path`` exists, is a directory and is
readable is a fact of the filesystem, checked off the event loop by :func:`check_media_path`
when the value changes (a media path that disappears later must not lock the other settings).
"""
from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from toolkit.api import N_  # marked for the catalog; the page shows them translated

from toolkit.api import PathMapping

DEFAULT_MEDIA_PATH = "/app/medias"


class SymlinkOwnSettings(BaseModel):
    """The plugin's own settings: the ``symlink`` namespace, stored in ``symlink_config``."""

    model_config = ConfigDict(extra="forbid")

    media_path: str = Field(DEFAULT_MEDIA_PATH, description="Folder holding the library's symlinks")
    # 12 as the engine's and the CLI's default: rclone serves at most 12 reads at once
    # (docs/symlink-engine.md); a value saved before (6 was the default) stays as saved
    max_workers: int = Field(12, ge=1, le=64, description="Links checked in parallel")
    small_files: Literal["media", "all"] = Field(
        "media", description="'media': small .nfo/.srt sidecars are fine; 'all': the original rule")
    max_deletions: int = Field(500, ge=1, le=1_000_000,
                               description="A deletion of more links needs an explicit override")
    max_deletion_share: float = Field(0.2, gt=0, le=1,
                                      description="Same, as a share of the scanned links")
    repair_policy: Literal["targeted", "rescan", "global", "off"] = Field(
        "targeted", description="What Sonarr/Radarr are asked after links were deleted")
    repair_missing_hours: int = Field(
        24, ge=1, le=24 * 30, description="A searched item not back (grabbed, imported, its link healthy) "
                                          "after this many hours is reported still missing")
    path_mappings: list[PathMapping] = Field(
        default_factory=list, description="Library paths as Sonarr/Radarr see them")
    scheduled_deletions: bool = Field(
        False, description="Let scheduled real-mode scans delete what they find (only when no "
                           "mount was down and the deletion limits above hold)")

    @field_validator("media_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        value = value.strip()
        if not value or "\0" in value:
            raise ValueError(N_("give the folder's absolute path"))
        if not os.path.isabs(value):
            raise ValueError(N_("must be an absolute path (starting with /)"))
        if ".." in value.split("/"):
            raise ValueError(N_("must not contain '..'"))
        return os.path.normpath(value)


class ConnectionFields(BaseModel):
    """The seed's flat Sonarr/Radarr fields, as the Settings tab and ``/api/symlink/config``
    show them. They are not stored here: they are a view of the host's ``sonarr`` and
    ``radarr`` settings (see :mod:`.service.arr_fields`), whose key is dropped when host or port
    changes without a new key."""

    model_config = ConfigDict(extra="forbid")

    sonarr_enabled: bool = True
    sonarr_host: str = Field("", max_length=253)
    sonarr_port: int = Field(8989, ge=1, le=65535)
    sonarr_api_key: SecretStr = SecretStr("")
    radarr_enabled: bool = True
    radarr_host: str = Field("", max_length=253)
    radarr_port: int = Field(7878, ge=1, le=65535)
    radarr_api_key: SecretStr = SecretStr("")

    @field_validator("sonarr_host", "radarr_host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if "://" in value or "/" in value:
            raise ValueError(N_("only the host name or IP address (no http://, no path)"))
        if value.count(":") == 1:
            raise ValueError(N_("put the port in the port field"))
        return value

    @field_validator("sonarr_api_key", "radarr_api_key")
    @classmethod
    def _api_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value().strip()
        if key and not key.isalnum():
            raise ValueError(N_("an API key holds only letters and digits"))
        return SecretStr(key)


class SymlinkSettings(SymlinkOwnSettings, ConnectionFields):
    """Everything the page and the seed's JSON API show: the plugin's own settings and the
    host's Sonarr/Radarr connections in the seed's fields."""


def check_media_path(path: str) -> str | None:
    """Blocking: ``None`` when ``path`` is an existing, readable directory, else why not."""
    try:
        if not os.path.exists(path):
            return N_("this folder does not exist")
        if not os.path.isdir(path):
            return N_("this is not a folder")
        if not os.access(path, os.R_OK | os.X_OK):
            return N_("this folder is not readable")
        with os.scandir(path) as entries:
            next(entries, None)
    except OSError as exc:
        return f"cannot read this folder: {exc.strerror or exc}"
    return None
