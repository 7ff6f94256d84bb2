"""Repair after a cleanup, against fake Sonarr/Radarr that check every request against
the official documents and see the same real library (a directory of symlinks)
through their own paths (/tv, /movies)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from toolkit.core.services import (
    ArrService,
    LidarrClient,
    PathMapper,
    RadarrClient,
    RemovedLink,
    RepairSettings,
    SonarrClient,
    execute_plan,
    plan_repair,
    repair_after_cleanup,
)
from toolkit.core.services.settings import SonarrConnection

FAST = dict(pace_seconds=0, poll_interval=0.01, command_timeout=30)


@dataclass
class Library:
    root: Path
    sonarr: object
    radarr: object
    services: list
    ids: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)  # name -> toolkit path of the link

    def remove(self, *names: str) -> list[RemovedLink]:
        """Delete links like the cleanup does and say what was removed."""
        removed = []
        for name in names:
            path = self.links[name]
            target = os.readlink(path) if os.path.islink(path) else ""
            if os.path.lexists(path):
                os.unlink(path)
            removed.append(RemovedLink(path, target))
        return removed


@pytest.fixture
def library(tmp_path, make_fake_arr, connect_to) -> Library:
    """Sonarr: Show A (3 files), Show A 2 (a prefix trap), Show B (a two-episode file and an
    unmonitored episode), Show C (unmonitored series). Radarr: Film X, Film Y (unmonitored),
    Film Z. Every file is a real symlink into a 'mount' directory."""
    tv, movies, mount = tmp_path / "library" / "tv", tmp_path / "library" / "movies", tmp_path / "mount"
    mount.mkdir(parents=True)
    sonarr = make_fake_arr("sonarr", disk_map={"/tv": str(tv)})
    radarr = make_fake_arr("radarr", disk_map={"/movies": str(movies)})
    lib = Library(tmp_path, sonarr, radarr, services=[
        ArrService(SonarrClient(connect_to(sonarr)), PathMapper([{"toolkit_prefix": str(tv), "arr_prefix": "/tv"}])),
        ArrService(RadarrClient(connect_to(radarr)), PathMapper([{"toolkit_prefix": str(movies), "arr_prefix": "/movies"}])),
    ])

    def link(name: str, arr_path: str, toolkit_root: Path, arr_root: str) -> None:
        path = toolkit_root / arr_path[len(arr_root) + 1:]
        path.parent.mkdir(parents=True, exist_ok=True)
        target = mount / f"{name}.bin"
        target.write_bytes(b"media")
        path.symlink_to(target)
        lib.links[name] = str(path)

    def episodes(series, key: str, season: int, numbers: list[int], **kw):
        episode_file, made = sonarr.add_episode_file(series, season, numbers, **kw)
        link(key, episode_file["path"], tv, "/tv")
        lib.ids[key] = [e["id"] for e in made]

    show_a = sonarr.add_series("Show A", "/tv/Show A")
    show_a2 = sonarr.add_series("Show A 2", "/tv/Show A 2")
    show_b = sonarr.add_series("Show B", "/tv/Show B", seasons=2)
    show_c = sonarr.add_series("Show C", "/tv/Show C", monitored=False)
    lib.ids.update(show_a=show_a["id"], show_a2=show_a2["id"], show_b=show_b["id"], show_c=show_c["id"])
    for n in (1, 2, 3):
        episodes(show_a, f"a{n}", 1, [n])
    episodes(show_a2, "a2_1", 1, [1])
    episodes(show_b, "b5_6", 2, [5, 6])
    episodes(show_b, "b7", 2, [7], monitored=False)
    episodes(show_c, "c1", 1, [1], monitored=False)
    for key, title, monitored in (("x", "Film X", True), ("y", "Film Y", False), ("z", "Film Z", True)):
        movie, movie_file = radarr.add_movie(title, f"/movies/{title} (2020)", monitored=monitored)
        link(key, movie_file["path"], movies, "/movies")
        lib.ids[key] = movie["id"]
    nfo = movies / "Film X (2020)" / "movie.nfo"
    nfo.symlink_to(mount / "x.bin")
    lib.links["x_nfo"] = str(nfo)
    lib.links["elsewhere"] = str(tmp_path / "library" / "other" / "thing.mkv")
    return lib


CLEANUP = ("a1", "a2", "b5_6", "b7", "c1", "x", "x_nfo", "y", "elsewhere")


async def test_targeted_repair_sends_exactly_the_lost_items(library):
    removed = library.remove(*CLEANUP)
    progress = []
    report = await repair_after_cleanup(removed, library.services, RepairSettings(**FAST),
                                        on_progress=lambda done, total, msg: progress.append((done, total)))
    ids = library.ids
    assert library.sonarr.command_calls() == [
        ("RescanSeries", {"seriesId": ids["show_a"]}),
        ("EpisodeSearch", {"episodeIds": ids["a1"] + ids["a2"]}),
        ("RescanSeries", {"seriesId": ids["show_b"]}),
        ("EpisodeSearch", {"episodeIds": ids["b5_6"]}),
        ("RescanSeries", {"seriesId": ids["show_c"]}),
    ]
    assert library.radarr.command_calls() == [
        ("RescanMovie", {"movieId": ids["x"]}),
        ("MoviesSearch", {"movieIds": [ids["x"]]}),
        ("RescanMovie", {"movieId": ids["y"]}),
    ]
    outcomes = {(i.service, i.title): (i.outcome, i.search_ids, i.skipped_ids) for i in report.items}
    assert outcomes == {
        ("sonarr", "Show A"): ("searched", ids["a1"] + ids["a2"], []),
        ("sonarr", "Show B"): ("searched", ids["b5_6"], ids["b7"]),
        ("sonarr", "Show C"): ("skipped_unmonitored", [], ids["c1"]),
        ("radarr", "Film X"): ("searched", [ids["x"]], []),
        ("radarr", "Film Y"): ("skipped_unmonitored", [], [ids["y"]]),
    }
    film_x = next(i for i in report.items if i.title == "Film X")
    assert film_x.unmatched_links == [library.links["x_nfo"]]
    assert report.unmatched_links == [library.links["elsewhere"]]
    assert report.ok and not report.aborted
    # every command's id and final status is recorded, and each went alone
    sent = report.commands_sent()
    assert [c.command_id for c in sent] == [c.id for c in library.sonarr.commands + library.radarr.commands]
    assert {(c.status, c.result) for c in sent} == {("completed", "successful")}
    assert all(c.unfinished_at_post == 0 for c in library.sonarr.commands + library.radarr.commands)
    assert progress[-1] == (8, 8) and [d for d, _ in progress] == sorted(d for d, _ in progress)
    # the rescans really made the *arrs forget exactly the lost files
    episodes = library.sonarr.items["episode"]
    lost = set(ids["a1"] + ids["a2"] + ids["b5_6"] + ids["b7"] + ids["c1"])
    assert {e for e, ep in episodes.items() if not ep["hasFile"]} == lost
    assert [m["hasFile"] for m in library.radarr.items["movie"].values()] == [False, False, True]


async def test_unmonitored_items_are_searched_when_the_setting_says_so(library):
    removed = library.remove("b5_6", "b7", "c1", "y")
    await repair_after_cleanup(removed, library.services,
                               RepairSettings(search_unmonitored=True, **FAST))
    ids = library.ids
    assert library.sonarr.command_calls() == [
        ("RescanSeries", {"seriesId": ids["show_b"]}),
        ("EpisodeSearch", {"episodeIds": ids["b5_6"] + ids["b7"]}),
        ("RescanSeries", {"seriesId": ids["show_c"]}),
        ("EpisodeSearch", {"episodeIds": ids["c1"]}),
    ]
    assert library.radarr.command_calls() == [("RescanMovie", {"movieId": ids["y"]}),
                                              ("MoviesSearch", {"movieIds": [ids["y"]]})]


async def test_prefix_must_end_at_a_separator(library):
    removed = library.remove("a2_1")
    report = await repair_after_cleanup(removed, library.services, RepairSettings(**FAST))
    assert [(i.title, i.item_id) for i in report.items] == [("Show A 2", library.ids["show_a2"])]
    assert library.sonarr.command_calls()[0] == ("RescanSeries", {"seriesId": library.ids["show_a2"]})


async def test_rescan_policy_sends_no_search(library):
    removed = library.remove(*CLEANUP)
    await repair_after_cleanup(removed, library.services, RepairSettings(policy="rescan", **FAST))
    ids = library.ids
    assert library.sonarr.command_calls() == [("RescanSeries", {"seriesId": ids[k]})
                                              for k in ("show_a", "show_b", "show_c")]
    assert library.radarr.command_calls() == [("RescanMovie", {"movieId": ids["x"]}),
                                              ("RescanMovie", {"movieId": ids["y"]})]


async def test_global_policy_is_the_original_scripts(library):
    removed = library.remove("a1")
    report = await repair_after_cleanup(removed, library.services, RepairSettings(policy="global", **FAST))
    assert library.sonarr.command_calls() == [("RescanSeries", {}), ("MissingEpisodeSearch", {})]
    assert library.radarr.command_calls() == [("RescanMovie", {}), ("MissingMoviesSearch", {})]
    assert [(i.item_type, i.outcome) for i in report.items] == [("library", "searched")] * 2


async def test_global_policy_sends_nothing_when_nothing_was_removed(library):
    report = await repair_after_cleanup([], library.services, RepairSettings(policy="global", **FAST))
    assert report.items == [] and library.sonarr.commands == [] and library.radarr.commands == []


async def test_dry_run_sends_nothing_but_shows_the_plan(library):
    removed = [RemovedLink(library.links[k]) for k in ("a1", "x")]  # nothing deleted in a dry run
    report = await repair_after_cleanup(removed, library.services, RepairSettings(**FAST), dry_run=True)
    assert library.sonarr.commands == [] and library.radarr.commands == []
    assert [(i.title, i.outcome, [(c.name, c.fields, c.command_id) for c in i.commands]) for i in report.items] == [
        ("Show A", "planned", [("RescanSeries", {"seriesId": library.ids["show_a"]}, None),
                               ("EpisodeSearch", {"episodeIds": library.ids["a1"]}, None)]),
        ("Film X", "planned", [("RescanMovie", {"movieId": library.ids["x"]}, None),
                               ("MoviesSearch", {"movieIds": [library.ids["x"]]}, None)]),
    ]


async def test_rescan_after_dry_run_sends_only_global_rescans(library):
    removed = [RemovedLink(library.links["a1"])]
    settings = RepairSettings(rescan_after_dry_run=True, **FAST)
    await repair_after_cleanup(removed, library.services, settings, dry_run=True)
    assert library.sonarr.command_calls() == [("RescanSeries", {})]
    assert library.radarr.command_calls() == [("RescanMovie", {})]


async def test_failed_rescan_means_no_search(library):
    library.sonarr.fail_commands["RescanSeries"] = "Series folder does not exist"
    removed = library.remove("a1", "b5_6")
    report = await repair_after_cleanup(removed, library.services, RepairSettings(**FAST))
    assert library.sonarr.command_names() == ["RescanSeries", "RescanSeries"]
    item = report.items[0]
    assert item.outcome == "failed" and item.commands[0].message == "Series folder does not exist"
    assert item.commands[1].command_id is None and item.commands[1].status == "not_sent"
    assert not report.ok


async def test_abort_stops_before_the_next_command(library):
    removed = library.remove(*CLEANUP)
    progress = []
    report = await repair_after_cleanup(
        removed, library.services, RepairSettings(**FAST),
        on_progress=lambda done, total, msg: progress.append(done),
        should_abort=lambda: len(progress) >= 1)
    assert library.sonarr.command_names() == ["RescanSeries"] and library.radarr.commands == []
    assert report.aborted
    assert [i.outcome for i in report.items] == ["aborted"] * 5
    assert report.items[0].commands[0].status == "completed"


async def test_command_that_never_ends_is_recorded_as_timeout(make_fake_arr, connect_to, tmp_path):
    sonarr = make_fake_arr("sonarr", polls_to_complete=10_000)
    series = sonarr.add_series("Show", "/tv/Show")
    episode_file, _ = sonarr.add_episode_file(series, 1, [1])
    service = ArrService(SonarrClient(connect_to(sonarr)))
    report = await repair_after_cleanup([episode_file["path"]], [service],
                                        RepairSettings(pace_seconds=0, poll_interval=0.01, command_timeout=0.05))
    assert sonarr.command_names() == ["RescanSeries"]
    assert (report.items[0].outcome, report.items[0].commands[0].status) == ("failed", "timeout")


async def test_unreachable_service_is_reported_and_the_other_still_repaired(library):
    dead = ArrService(SonarrClient(SonarrConnection(enabled=True, host="127.0.0.1", port=9, api_key="k"),
                                   retries=0))
    removed = library.remove("a1", "x")
    report = await repair_after_cleanup(removed, [dead, library.services[1]], RepairSettings(**FAST))
    assert [e["reason"] for e in report.errors] == ["unreachable"]
    assert library.radarr.command_names() == ["RescanMovie", "MoviesSearch"]
    assert report.unmatched_links == [library.links["a1"]]
    assert not report.ok


async def test_plan_before_deletion_execute_after(library):
    """The plugin may read the *arr's view while the files are still listed."""
    plan = await plan_repair([library.links["a3"]], library.services)
    library.remove("a3")
    report = await execute_plan(plan, RepairSettings(**FAST))
    assert library.sonarr.command_calls() == [("RescanSeries", {"seriesId": library.ids["show_a"]}),
                                              ("EpisodeSearch", {"episodeIds": library.ids["a3"]})]
    assert report.to_dict()["items"][0]["commands"][1]["status"] == "completed"


async def test_lidarr_rescans_the_artist_folder_and_searches_the_album(make_fake_arr, connect_to):
    lidarr = make_fake_arr("lidarr")
    artist = lidarr.add_artist("Band", "/music/Band")
    track_file, track = lidarr.add_track_file(artist, "First Album", 1)
    lidarr.add_track_file(artist, "Second Album", 1)
    lidarr.missing_paths.add(track_file["path"])
    service = ArrService(LidarrClient(connect_to(lidarr)),
                         PathMapper([{"toolkit_prefix": "/srv/music", "arr_prefix": "/music"}]))
    report = await repair_after_cleanup(["/srv/music/Band/First Album/01 - Track 1.flac"], [service],
                                        RepairSettings(**FAST))
    assert lidarr.command_calls() == [
        ("RescanFolders", {"folders": ["/music/Band"], "artistIds": [artist["id"]]}),
        ("AlbumSearch", {"albumIds": [track["albumId"]]}),
    ]
    assert report.items[0].outcome == "searched"
