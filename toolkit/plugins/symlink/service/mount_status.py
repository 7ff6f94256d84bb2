"""The mounts this plugin knows, offered to other plugins as ``toolkit.services["mounts"]``
(see :data:`toolkit.api.MOUNTS_SERVICE`): a queue cleaner must not count strikes while
the debrid mount its downloads land on is down."""
from __future__ import annotations

import asyncio

from ..engine.mounts import MountMonitor
from ..mount_memory import SqlMountMemory


class KnownMountStatus:
    """``await down()``: the mounts earlier scans saw answering that are now not mounted,
    not answering or hung, as ``{"mount_point", "reason"}``."""

    def __init__(self, database_url: str, *, timeout: float = 5.0) -> None:
        self.database_url = database_url
        self.timeout = timeout

    async def down(self) -> list[dict]:
        return await asyncio.to_thread(self._down)

    def _down(self) -> list[dict]:
        known = SqlMountMemory(self.database_url).known()
        if not known:
            return []
        monitor = MountMonitor(timeout=self.timeout, known_mounts=known)
        down = []
        for path in known:
            health = monitor.health_of(path, force=True)
            if not health.healthy:
                down.append({"mount_point": path, "reason": health.reason or "down"})
        return down
