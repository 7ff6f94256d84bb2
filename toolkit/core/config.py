"""Host configuration, read from the environment once per app or command."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.core import datadir


def _names(value: str | None) -> frozenset[str]:
    return frozenset(n.strip() for n in (value or "").split(",") if n.strip())


@dataclass(frozen=True)
class ToolkitConfig:
    """``TOOLKIT_DATA_DIR`` (default ``./data``), ``TOOLKIT_DATABASE_URL``,
    ``TOOLKIT_PLUGINS_BLOCK`` / ``TOOLKIT_PLUGINS_ALLOW`` (comma-separated plugin names),
    ``TOOLKIT_MAX_JOBS`` (jobs running at once, default 2), ``TOOLKIT_BASE_URL`` (public
    address used in notifications), ``TOOLKIT_ALLOWED_HOSTS`` (host names the web app answers
    to besides localhost and IP addresses; ``.example.com`` allows its subdomains), ``TOOLKIT_LANGUAGE`` (``en`` or ``fr``;
    default: the browser's, French inside Redriva)."""

    data_dir: Path
    database_url: str
    plugins_block: frozenset[str] = frozenset()
    plugins_allow: frozenset[str] = frozenset()
    max_jobs: int = 2
    base_url: str = ""
    allowed_hosts: frozenset[str] = frozenset()
    language: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> "ToolkitConfig":
        values = dict(
            data_dir=datadir.data_dir(),
            database_url=datadir.database_url(),
            plugins_block=_names(os.environ.get("TOOLKIT_PLUGINS_BLOCK")),
            plugins_allow=_names(os.environ.get("TOOLKIT_PLUGINS_ALLOW")),
            max_jobs=int(os.environ.get("TOOLKIT_MAX_JOBS", "2")),
            base_url=os.environ.get("TOOLKIT_BASE_URL", ""),
            allowed_hosts=frozenset(n.lower() for n in _names(
                os.environ.get("TOOLKIT_ALLOWED_HOSTS"))),
            language=os.environ.get("TOOLKIT_LANGUAGE", ""),
        )
        values.update(overrides)
        return cls(**values)
