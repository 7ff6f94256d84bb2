"""Fixtures for the symlink page and API: a generated library of real symlinks (healthy,
broken, small, sidecar) under a temporary media path, and an app configured to use it."""
from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from toolkit.core.jobs import wait_until

# the fake Sonarr/Radarr server and Docker Engine live in tests/fakes
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from fakes.arr_server import FakeArr  # noqa: E402,F401
from fakes.docker_engine import FakeDockerEngine  # noqa: E402,F401

MEDIA_BYTES = 4096


@dataclass
class Library:
    media: Path  # the media path: folders of symlinks
    store: Path  # where the link targets live (the "mount")
    healthy: list[Path] = field(default_factory=list)
    broken: list[Path] = field(default_factory=list)
    small: list[Path] = field(default_factory=list)
    sidecars: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> list[Path]:
        return self.broken + self.small


def build_library(root: Path, shows: int = 3, episodes: int = 4, broken_every: int = 3,
                  small_every: int = 5) -> Library:
    """``media/<Show>/Season 1/<episode>.mkv`` links into ``store/``; some targets missing
    (BROKEN), some tiny (SMALL_FILE), plus a small ``.nfo`` sidecar per show (never a problem)."""
    library = Library(root / "media", root / "store")
    index = 0
    for s in range(shows):
        show = f"Show {s + 1}"
        season = library.media / show / "Season 1"
        season.mkdir(parents=True)
        (library.store / show).mkdir(parents=True)
        for e in range(episodes):
            index += 1
            target = library.store / show / f"E{e + 1:02d}.mkv"
            link = season / f"{show} - S01E{e + 1:02d}.mkv"
            if index % broken_every == 0:
                library.broken.append(link)  # target never created
            elif index % small_every == 0:
                target.write_bytes(b"x" * 100)
                library.small.append(link)
            else:
                with open(target, "wb") as handle:
                    handle.truncate(MEDIA_BYTES)
                    handle.seek(0)
                    handle.write(b"\x1a\x45\xdf\xa3" + b"\0" * 1020)
                library.healthy.append(link)
            os.symlink(target, link)
        nfo_target = library.store / show / "tvshow.nfo"
        nfo_target.write_text("<tvshow/>")
        nfo = library.media / show / "tvshow.nfo"
        os.symlink(nfo_target, nfo)
        library.sidecars.append(nfo)
    return library


@pytest.fixture
def library(tmp_path) -> Library:
    return build_library(tmp_path)


@pytest.fixture
def media_env(library, monkeypatch) -> Library:
    """The app's media path points at the generated library (through the documented
    environment override, so no test depends on another's settings)."""
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(library.media))
    return library


async def wait_scan(client, scan_id: str, timeout: float = 30.0) -> dict:
    body: dict = {}

    async def finished() -> bool:
        nonlocal body
        response = await client.get(f"/api/symlink/scan/status/{scan_id}")
        body = await response.get_json()
        return body["status"] not in ("queued", "running", "cancelling")

    await wait_until(finished, timeout=timeout, interval=0.1)
    return body


async def wait_job(app, job_id: str, timeout: float = 30.0):
    from toolkit.web.app import current_toolkit

    async with app.app_context():
        return await current_toolkit().runner.wait(job_id, timeout=timeout)


async def settle_counts(app) -> None:
    counter = app.extensions["toolkit"].services.get("symlink_counter")
    if counter is not None:
        await asyncio.wait_for(counter.wait(), 30)
