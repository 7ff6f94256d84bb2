"""The media path's folder tree, one level per request, with symlink counts.

Listing one level is quick; counting the links under a big folder is not, so counts are
computed in background threads (at most :data:`COUNT_WORKERS` at once), cached for
:data:`COUNT_TTL` seconds, and reported as ``null`` with ``counting: true`` meanwhile.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

from .walk import walk_links

log = logging.getLogger(__name__)
COUNT_TTL = 600.0
COUNT_WORKERS = 2
MAX_CACHED = 20_000
MAX_LISTED = 2_000


@dataclass
class _Count:
    value: int  # -1: counting failed (the original script's convention)
    at: float


def count_links(path: str) -> int:
    """Blocking: symlinks under ``path`` (directory links counted, never followed)."""
    errors: list[str] = []
    count = sum(1 for _ in walk_links([path], errors))
    if errors and count == 0:
        return -1
    return count


class LinkCounter:
    def __init__(self, ttl: float = COUNT_TTL):
        self.ttl = ttl
        self._cache: dict[str, _Count] = {}
        self._running: dict[str, asyncio.Task] = {}
        self._slots = asyncio.Semaphore(COUNT_WORKERS)

    def cached(self, path: str) -> int | None:
        entry = self._cache.get(path)
        if entry is None or time.monotonic() - entry.at > self.ttl:
            return None
        return entry.value

    def counting(self, path: str) -> bool:
        return path in self._running

    def request(self, path: str) -> int | None:
        """The cached count, or ``None`` after making sure a count is on its way."""
        value = self.cached(path)
        if value is None and path not in self._running:
            self._running[path] = asyncio.get_running_loop().create_task(self._count(path))
        return value

    async def _count(self, path: str) -> None:
        try:
            async with self._slots:
                value = await asyncio.to_thread(count_links, path)
        except Exception:
            log.exception("counting links under %s failed", path)
            value = -1
        finally:
            self._running.pop(path, None)
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[path] = _Count(value, time.monotonic())

    def invalidate(self) -> None:
        self._cache.clear()

    async def wait(self) -> None:
        """For tests and shutdown: let running counts finish."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    def cancel(self) -> None:
        for task in self._running.values():
            task.cancel()


def list_subdirs(path: str) -> tuple[list[str], bool]:
    """Blocking: non-hidden sub-folders (not links) of ``path``, sorted; and whether the
    list was cut at :data:`MAX_LISTED`."""
    names = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    names.append(entry.name)
            except OSError:
                continue
    names.sort(key=str.lower)
    return names[:MAX_LISTED], len(names) > MAX_LISTED


def node(counter: LinkCounter, media_path: str, path: str) -> dict:
    count = counter.request(path)
    relative = os.path.relpath(path, media_path)
    return {"path": path, "relative": "" if relative == "." else relative,
            "name": os.path.basename(path) or path, "symlink_count": count,
            "counting": count is None}
