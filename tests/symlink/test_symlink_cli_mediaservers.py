"""``symlink scan --mode real``: after the deletion, the Jellyfin and Plex configured in the
environment re-scan exactly the folders of the deleted links (real HTTP fakes that follow
their documented API)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

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


def test_a_media_server_saved_on_the_web_page_is_refreshed_by_the_command_line(servers, tmp_path):
    """The command line reads the saved settings without starting a toolkit first: a server
    saved in the database (no environment variable) is still asked."""
    import asyncio

    from toolkit.api import running_toolkit

    jellyfin, _plex = servers
    tv, links = library(tmp_path)

    async def save() -> None:
        async with running_toolkit() as toolkit:
            await toolkit.settings.update("jellyfin", {"url": jellyfin.url, "api_key": jellyfin.token})

    asyncio.run(save())
    result, report = scan(tv, tmp_path, "--mode", "real", "--yes", "--no-repair")
    assert result.exit_code == 3, result.output
    season = str(tv / "Show A" / "Season 1")
    assert jellyfin.refreshes() == [[{"Path": season, "UpdateType": "Modified"}]]
    assert report["media_servers"]["ok"] and "jellyfin: asked to re-scan 1 folder(s)" in result.output


# runs the command as `redriva-toolkit` does, then prints what it imported
COMMAND = """
import json, sys
from toolkit.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""
# what starting a toolkit loads: its runtime, the web app, the notifier
TOOLKIT_STARTED = {"toolkit.core.runtime", "toolkit.web", "quart", "hypercorn", "apprise"}


def test_without_a_media_server_deleting_and_restoring_start_no_toolkit(tmp_path):
    tv, links = library(tmp_path)
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("TOOLKIT_JELLYFIN__", "TOOLKIT_EMBY__", "TOOLKIT_PLEX__"))}
    environment.update(TOOLKIT_DATA_DIR=str(tmp_path / "data"))
    environment.pop("TOOLKIT_DATABASE_URL", None)
    report = tmp_path / "report.json"

    def run(*arguments: str) -> dict:
        done = subprocess.run([sys.executable, "-c", COMMAND, "symlink", *arguments], env=environment,
                              capture_output=True, text=True, timeout=120)
        return json.loads(done.stdout.strip().splitlines()[-1])

    deleted = run("scan", str(tv), "--mode", "real", "--yes", "--no-repair", "--json", str(report))
    assert deleted["code"] == 3 and not os.path.lexists(links["a1"])
    assert TOOLKIT_STARTED & set(deleted["modules"]) == set()
    summary = json.loads(report.read_text())["media_servers"]
    assert summary["skipped"] == "no media server is configured"
    assert summary["folders"] == [str(tv / "Show A" / "Season 1")]

    restored = run("restore", "--path", str(tv))
    assert restored["code"] == 0 and os.path.islink(links["a1"])
    assert TOOLKIT_STARTED & set(restored["modules"]) == set()
