"""``symlink scan --mode real``: after the deletion, the Jellyfin and Plex configured in the
environment re-scan exactly the folders of the deleted links (real HTTP fakes that follow
their documented API)."""
from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from fakes.mediaserver import FakeMediaServer
from toolkit.plugins.symlink.cli import symlink_cli


@pytest.fixture
def servers(monkeypatch, database_url):
    jellyfin = FakeMediaServer("jellyfin").start()
    plex = FakeMediaServer("plex", sections={"4": ["/data/tv"]}).start()
    yield jellyfin, plex
    for fake in (jellyfin, plex):
        fake.stop()
        assert fake.violations == []


def library(root):
    """tv/Show A/Season 1: one link whose target is gone, one healthy; tv/Show B healthy."""
    store, tv = root / "store", root / "media" / "tv"
    store.mkdir()
    links = {}
    for key, folder, present in (("a1", "Show A/Season 1", False), ("a2", "Show A/Season 1", True),
                                 ("b1", "Show B/Season 1", True)):
        target = store / f"{key}.mkv"
        if present:
            target.write_bytes(b"\x1a" * 4096)
        (tv / folder).mkdir(parents=True, exist_ok=True)
        links[key] = tv / folder / f"{key}.mkv"
        os.symlink(target, links[key])
    return tv, links


def scan(path, tmp_path, *options):
    report = tmp_path / "report.json"
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        symlink_cli, ["scan", str(path), "--json", str(report), *options], catch_exceptions=False)
    return result, json.loads(report.read_text())


def test_real_mode_and_restore_ask_each_media_server_to_rescan_the_folder_of_the_link(servers, tmp_path, monkeypatch):
    jellyfin, plex = servers
    tv, links = library(tmp_path)
    monkeypatch.setenv("TOOLKIT_JELLYFIN__URL", jellyfin.url)
    monkeypatch.setenv("TOOLKIT_JELLYFIN__API_KEY", jellyfin.token)
    monkeypatch.setenv("TOOLKIT_PLEX__URL", plex.url)
    monkeypatch.setenv("TOOLKIT_PLEX__TOKEN", plex.token)
    monkeypatch.setenv("TOOLKIT_PLEX__PATH_MAPPINGS", f"{tv} = /data/tv")

    dry, dry_report = scan(tv, tmp_path, "--mode", "dry-run")
    assert dry_report["media_servers"] is None and jellyfin.calls == [] and plex.calls == []

    result, report = scan(tv, tmp_path, "--mode", "real", "--yes", "--no-repair")
    assert result.exit_code == 3, result.output
    assert not os.path.lexists(links["a1"]) and os.path.islink(links["a2"])
    season = str(tv / "Show A" / "Season 1")
    assert jellyfin.refreshes() == [[{"Path": season, "UpdateType": "Modified"}]]
    assert plex.refreshes() == [("4", "/data/tv/Show A/Season 1")]
    assert report["media_servers"]["ok"] and report["media_servers"]["folders"] == [season]
    assert "jellyfin: asked to re-scan 1 folder(s)" in result.output

    restored = CliRunner().invoke(symlink_cli, ["restore", "--path", str(tv)], catch_exceptions=False)
    assert restored.exit_code == 0 and os.path.islink(links["a1"]), restored.output
    assert jellyfin.refreshes()[1] == [{"Path": season, "UpdateType": "Created"}]
    assert plex.refreshes()[1] == ("4", "/data/tv/Show A/Season 1")
