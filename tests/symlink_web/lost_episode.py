"""One episode lost on the debrid store and known to a (fake) Sonarr: the library on disk, the
connection and path mapping saved as the page does, and a real-mode scan whose problems are
deleted. Shared by the tests of the repair, the problems' lives and the repairs' follow-up."""
from __future__ import annotations

import os
from pathlib import Path

from fakes.library import MEDIA_BYTES

from .conftest import wait_job, wait_scan


def media_file(path: Path) -> None:
    """A file a scan finds healthy."""
    with open(path, "wb") as handle:
        handle.truncate(MEDIA_BYTES)
        handle.write(b"\x1a\x45\xdf\xa3")


def lost_episode(tmp_path: Path, monkeypatch, sonarr) -> dict:
    """``Show 1``: S01E01's link is broken (``lost``), S01E02's is fine; Sonarr sees the
    library as /tv and has a file record for both (``episode``: S01E01's)."""
    media, store = tmp_path / "tvlib", tmp_path / "tvstore"
    season = media / "Show 1" / "Season 01"
    season.mkdir(parents=True)
    store.mkdir()
    lost = season / "Show 1 - S01E01.mkv"
    os.symlink(store / "gone.mkv", lost)  # BROKEN
    media_file(store / "E02.mkv")
    os.symlink(store / "E02.mkv", season / "Show 1 - S01E02.mkv")
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(media))
    series = sonarr.add_series("Show 1", "/tv/Show 1")
    _file, (episode,) = sonarr.add_episode_file(series, 1, [1])
    sonarr.add_episode_file(series, 1, [2])
    sonarr.disk_map["/tv"] = str(media)  # the fake's disk scan looks at our library
    return {"media": media, "store": store, "season": season, "lost": lost, "series": series, "episode": episode}


async def scan_and_delete(app, client, sonarr, media: Path, *, override: bool = False) -> tuple[dict, object]:
    """Save the Sonarr connection (targeted repair, /tv mapped), scan ``media`` in real mode,
    delete what it found; the finished scan and the deletion job."""
    await client.post("/api/symlink/config", json={
        "sonarr_enabled": True, "sonarr_host": "127.0.0.1", "sonarr_port": sonarr.port,
        "sonarr_api_key": sonarr.api_key, "repair_policy": "targeted",
        "path_mappings": [{"toolkit_prefix": str(media), "arr_prefix": "/tv"}]})
    started = await client.post("/api/symlink/scan/start", json={
        "paths": [str(media)], "mode": "real", "verification_depth": "basic"})
    final = await wait_scan(client, (await started.get_json())["scan_id"])
    assert final["status"] == "completed", final
    response = await client.post(f"/api/symlink/scans/{final['scan_id']}/delete", json={
        "all": True, "token": final["deletion"]["token"], **({"override": True} if override else {})})
    body = await response.get_json()
    assert response.status_code == 202, body
    return final, await wait_job(app, body["job_id"], timeout=60)
