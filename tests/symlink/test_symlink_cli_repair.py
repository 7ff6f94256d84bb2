"""``symlink scan --mode real``: after the deletion, the Sonarr and Radarr of the toolkit's
symlink settings rescan and search exactly what was lost (fake *arr servers that check
every request against the official documents, and see the same real library)."""
from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from fakes.arr_server import FakeArr
from toolkit.plugins.symlink.service import repair
from toolkit.plugins.symlink.cli import symlink_cli


@pytest.fixture
def arr():
    started = []

    def start(kind: str, **options) -> FakeArr:
        fake = FakeArr(kind, **options).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()
        assert fake.violations == []


def save_settings(values: dict) -> None:
    """Store the settings as the web's settings page does: the connections go to the host's
    Sonarr/Radarr settings, the rest to the symlink plugin's."""
    from toolkit.api import running_toolkit
    from toolkit.plugins.symlink.service import arr_fields

    async def save() -> None:
        async with running_toolkit() as toolkit:
            await arr_fields.save(toolkit, values)

    asyncio.run(save())


class Library:
    """tv/ and movies/ folders of links into a debrid-like store (one folder per release),
    known to a Sonarr (as /tv) and a Radarr (as /movies)."""

    def __init__(self, root: Path, sonarr: FakeArr, radarr: FakeArr) -> None:
        self.tv, self.movies, self.store = root / "media" / "tv", root / "media" / "movies", root / "store"
        self.sonarr, self.radarr = sonarr, radarr
        self.ids: dict[str, object] = {}
        self.links: dict[str, Path] = {}

    def link(self, key: str, arr_path: str, folder: Path, arr_root: str, *, present: bool) -> None:
        path = folder / arr_path[len(arr_root) + 1:]
        target = self.store / f"release.{key}" / f"{key}.mkv"
        if present:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"\x1a" * 4096)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
        self.links[key] = path

    def episode(self, key: str, series: dict, number: int, *, present: bool) -> None:
        episode_file, (episode,) = self.sonarr.add_episode_file(series, 1, [number])
        self.link(key, episode_file["path"], self.tv, "/tv", present=present)
        self.ids[key] = episode["id"]

    def movie(self, key: str, title: str, *, present: bool) -> None:
        movie, movie_file = self.radarr.add_movie(title, f"/movies/{title} (2020)")
        self.link(key, movie_file["path"], self.movies, "/movies", present=present)
        self.ids[key] = movie["id"]


@pytest.fixture
def library(tmp_path, arr, engine, database_url, monkeypatch) -> Library:
    monkeypatch.setattr(repair, "PACING", {"pace_seconds": 0, "poll_interval": 0.01})
    lib = Library(tmp_path, arr("sonarr", disk_map={"/tv": str(tmp_path / "media" / "tv")}),
                  arr("radarr", disk_map={"/movies": str(tmp_path / "media" / "movies")}))
    show_a, show_b = lib.sonarr.add_series("Show A", "/tv/Show A"), lib.sonarr.add_series("Show B", "/tv/Show B")
    lib.ids.update(show_a=show_a["id"], show_b=show_b["id"])
    lib.episode("a1", show_a, 1, present=False)  # lost on the debrid service
    lib.episode("a2", show_a, 2, present=True)
    lib.episode("b1", show_b, 1, present=True)
    lib.movie("x", "Film X", present=False)       # lost
    lib.movie("y", "Film Y", present=True)
    lib.movie("z", "Film Z", present=True)
    save_settings({
        "sonarr_enabled": True, "sonarr_host": "127.0.0.1", "sonarr_port": lib.sonarr.port,
        "sonarr_api_key": lib.sonarr.api_key,
        "radarr_enabled": True, "radarr_host": "127.0.0.1", "radarr_port": lib.radarr.port,
        "radarr_api_key": lib.radarr.api_key, "repair_policy": "targeted",
        "path_mappings": [{"toolkit_prefix": str(lib.tv), "arr_prefix": "/tv"},
                          {"toolkit_prefix": str(lib.movies), "arr_prefix": "/movies"}]})
    return lib


def scan(library: Library, tmp_path: Path, *options: str):
    report = tmp_path / "report.json"
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        symlink_cli, ["scan", str(library.tv.parent), "--json", str(report), *options], catch_exceptions=False)
    return result, json.loads(report.read_text())


def test_real_mode_repairs_exactly_the_lost_episode_and_movie(library, tmp_path):
    result, report = scan(library, tmp_path, "--mode", "real", "--yes")

    assert result.exit_code == 3, result.output
    assert not os.path.lexists(library.links["a1"]) and not os.path.lexists(library.links["x"])
    ids = library.ids
    assert library.sonarr.command_calls() == [("RescanSeries", {"seriesId": ids["show_a"]}),
                                              ("EpisodeSearch", {"episodeIds": [ids["a1"]]})]
    assert library.radarr.command_calls() == [("RescanMovie", {"movieId": ids["x"]}),
                                              ("MoviesSearch", {"movieIds": [ids["x"]]})]
    repaired = report["repair"]
    assert repaired["ok"] and repaired["policy"] == "targeted" and repaired["items"] == 2
    items = {(i["service"], i["item_id"]): i for i in repaired["item_outcomes"]}
    assert items.keys() == {("sonarr", ids["show_a"]), ("radarr", ids["x"])}
    assert items[("sonarr", ids["show_a"])]["outcome"] == "searched"
    assert items[("sonarr", ids["show_a"])]["search_ids"] == [ids["a1"]]
    assert items[("sonarr", ids["show_a"])]["links"] == [str(library.links["a1"])]
    assert [(c["name"], c["status"]) for c in items[("radarr", ids["x"])]["commands"]] == [
        ("RescanMovie", "completed"), ("MoviesSearch", "completed")]
    assert "Sonarr/Radarr repair (targeted): 2 items" in result.output
    assert "sonarr series Show A: searched" in result.output
    assert "radarr movie Film X: searched" in result.output


def test_no_repair_flag_and_dry_run_send_nothing(library, tmp_path):
    dry, dry_report = scan(library, tmp_path, "--mode", "dry-run")
    real, real_report = scan(library, tmp_path, "--mode", "real", "--yes", "--no-repair")

    assert dry.exit_code == 2 and real.exit_code == 3, real.output
    assert dry_report["repair"] is None and real_report["repair"] is None
    assert not os.path.lexists(library.links["a1"])
    assert library.sonarr.commands == [] and library.radarr.commands == []


def test_an_unreachable_sonarr_is_reported_and_the_deletion_stands(library, tmp_path):
    library.sonarr.stop()  # Sonarr is down; Radarr still answers

    result, report = scan(library, tmp_path, "--mode", "real", "--yes")

    assert result.exit_code == 3, result.output
    assert not os.path.lexists(library.links["a1"])
    repaired = report["repair"]
    assert not repaired["ok"] and repaired["errors"], repaired
    assert library.radarr.command_calls() == [("RescanMovie", {"movieId": library.ids["x"]}),
                                              ("MoviesSearch", {"movieIds": [library.ids["x"]]})]
    assert "error:" in result.output


def test_the_searches_are_followed_until_repaired_or_still_missing(library, tmp_path, engine, monkeypatch):
    """``symlink repairs``: what the real-mode scan's searches became, read from Sonarr's
    and Radarr's history (``--check``): the episode imported with a healthy link is repaired,
    the movie nothing brought back for a day and more is still missing."""
    from sqlalchemy import text

    from toolkit.plugins.symlink.service import follow

    monkeypatch.setattr(follow, "PACE_SECONDS", 0)
    scanned, _report = scan(library, tmp_path, "--mode", "real", "--yes")
    assert scanned.exit_code == 3, scanned.output
    runner = CliRunner(env={"COLUMNS": "400"})
    listed = runner.invoke(symlink_cli, ["repairs"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert "searching · Sonarr · Show A" in listed.output and "searching · Radarr · Film X" in listed.output

    new = library.tv / "Show A" / "Season 01" / "Show A - S01E01 - Proper.mkv"
    target = library.store / "release.a1.proper" / "a1.mkv"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\x1a" * 4096)
    os.symlink(target, new)
    episode = library.sonarr.items["episode"][library.ids["a1"]]
    library.sonarr.grab(episode=episode)
    library.sonarr.import_file(f"/tv/Show A/Season 01/{new.name}", episode=episode)
    with engine.begin() as connection:  # the movie was searched 30 hours ago
        connection.execute(text("UPDATE symlink_repair_follows SET requested_at = "
                                "datetime(requested_at, '-30 hours') WHERE service = 'radarr'"))
    checked = runner.invoke(symlink_cli, ["repairs", "--check"], catch_exceptions=False)
    assert checked.exit_code == 0, checked.output
    assert "Checked 2 item(s); 0 could not be read." in checked.output
    assert "repaired: imported and its new link is healthy · Sonarr · Show A" in checked.output
    assert "still missing after 24 hours · Radarr · Film X" in checked.output
    assert ("GET", f"/api/v3/history/movie?movieId={library.ids['x']}") in library.radarr.requests
    as_json = json.loads(runner.invoke(symlink_cli, ["repairs", "--json", "--state", "repaired"]).output)
    assert [(i["title"], i["new_paths"]) for i in as_json["items"]] == [("Show A", [str(new)])]
