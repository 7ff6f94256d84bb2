"""Closing the loop after a repair search (issue 16 item 5): a real library on disk, a real
scan and deletion, the fake Sonarr (checked against its OpenAPI document) asked to search,
then its history followed: grabbed, imported and the new link healthy -> repaired; nothing
back after the delay -> still missing (notified once); Sonarr unreachable -> nothing changes."""
from __future__ import annotations

import os
import socket
import sqlite3
from datetime import timedelta

import pytest

from fakes.arr_server import FakeArr
from toolkit.api import utcnow
from toolkit.testing import toolkit_of_app

from toolkit.plugins.symlink.service.follow import follow_repairs

from .conftest import wait_job
from .lost_episode import lost_episode, media_file, scan_and_delete
from .test_problem_lives import lives


@pytest.fixture
def sonarr():
    fake = FakeArr("sonarr").start()
    yield fake
    fake.stop()
    assert not fake.violations, fake.violations


async def deleted_and_searched(app, client, tmp_path, monkeypatch, sonarr, inbox) -> dict:
    """A broken episode link found by a real-mode scan, deleted, and searched by Sonarr."""
    lib = lost_episode(tmp_path, monkeypatch, sonarr)
    await client.post("/api/toolkit/settings/notifications", json={"urls": inbox.url})
    final, job = await scan_and_delete(app, client, sonarr, lib["media"], override=True)
    assert job.result["repair"]["outcomes"] == {"searched": 1} and job.result["following"] == 1, job.result
    return {**lib, "scan_id": final["scan_id"]}


async def follows(client, **params) -> list[dict]:
    response = await client.get("/api/symlink/repairs", query_string=params)
    assert response.status_code == 200
    return (await response.get_json())["items"]


def follow_messages(inbox, word: str) -> list[dict]:
    return [m for m in inbox.messages if word in m["title"]]


async def test_a_search_followed_to_imported_and_a_healthy_link_is_repaired(
        toolkit_app, toolkit_client, toolkit_config, tmp_path, monkeypatch, sonarr, inbox):
    lib = await deleted_and_searched(toolkit_app, toolkit_client, tmp_path, monkeypatch, sonarr, inbox)
    (item,) = await follows(toolkit_client, scan_id=lib["scan_id"])
    assert (item["state"], item["text"], item["title"]) == ("searching", "searching", "Show 1")
    assert item["search_ids"] == [lib["episode"]["id"]] and item["links"] == [str(lib["lost"])]

    sonarr.grab(episode=lib["episode"])
    await follow_repairs(toolkit_of_app(toolkit_app), pace=0)
    (item,) = await follows(toolkit_client)
    assert (item["state"], item["text"]) == ("grabbed", "grabbed, waiting for the import")

    # imported under a new name; the import is a link into the store, which the check reads
    media_file(lib["store"] / "new-release.mkv")
    os.symlink(lib["store"] / "new-release.mkv", lib["season"] / "Show 1 - S01E01 - New.mkv")
    sonarr.import_file("/tv/Show 1/Season 01/Show 1 - S01E01 - New.mkv", episode=lib["episode"])
    started = await toolkit_client.post("/api/symlink/repairs/follow")
    assert started.status_code == 202
    job = await wait_job(toolkit_app, (await started.get_json())["job_id"])
    assert (job.state, job.result["repaired"], job.result["notified"]) == ("completed", 1, 1), job
    (item,) = await follows(toolkit_client)
    assert (item["state"], item["text"]) == ("repaired", "repaired: imported and its new link is healthy")
    assert item["new_paths"] == [str(lib["season"] / "Show 1 - S01E01 - New.mkv")]
    life = lives(toolkit_config)[str(lib["lost"])]
    assert (life["state"], life["fixed_how"]) == ("fixed", "repaired")
    assert ("GET", f"/api/v3/history/series?seriesId={lib['episode']['seriesId']}") in sonarr.requests
    inbox.wait_for(1)
    (message,) = follow_messages(inbox, "repaired")
    assert message["title"] == "1 item repaired" and "Show 1" in message["message"]

    await follow_repairs(toolkit_of_app(toolkit_app), pace=0)  # a repaired item is not looked at again
    assert len([r for r in sonarr.requests if "/history/" in r[1]]) == 2
    assert len(follow_messages(inbox, "repaired")) == 1


async def test_an_import_whose_link_is_broken_is_not_repaired(
        toolkit_app, toolkit_client, toolkit_config, tmp_path, monkeypatch, sonarr, inbox):
    lib = await deleted_and_searched(toolkit_app, toolkit_client, tmp_path, monkeypatch, sonarr, inbox)
    new = lib["season"] / "Show 1 - S01E01 - New.mkv"
    os.symlink(lib["store"] / "not-there.mkv", new)  # the import's link points nowhere
    sonarr.grab(episode=lib["episode"])
    sonarr.import_file(f"/tv/Show 1/Season 01/{new.name}", episode=lib["episode"])
    await follow_repairs(toolkit_of_app(toolkit_app), pace=0)
    (item,) = await follows(toolkit_client)
    assert (item["state"], item["text"]) == ("imported", "imported, but its new link is not healthy yet")
    assert item["note"].startswith(f"last look: {new}: target missing")
    assert lives(toolkit_config)[str(lib["lost"])]["state"] == "researched"


async def test_still_missing_after_the_delay_is_notified_once(
        toolkit_app, toolkit_client, toolkit_config, tmp_path, monkeypatch, sonarr, inbox):
    lib = await deleted_and_searched(toolkit_app, toolkit_client, tmp_path, monkeypatch, sonarr, inbox)
    sonarr.grab(episode=lib["episode"])  # grabbed, never imported
    toolkit = toolkit_of_app(toolkit_app)
    await follow_repairs(toolkit, now=utcnow() + timedelta(hours=23), pace=0)
    (item,) = await follows(toolkit_client)
    assert item["state"] == "grabbed"  # not yet: the setting says 24 hours
    assert follow_messages(inbox, "missing") == []

    later = utcnow() + timedelta(hours=25)
    tally = await follow_repairs(toolkit, now=later, pace=0)
    assert (tally["missing"], tally["notified"]) == (1, 1)
    await follow_repairs(toolkit, now=later + timedelta(hours=1), pace=0)
    (item,) = await follows(toolkit_client)
    assert (item["state"], item["text"]) == ("missing", "still missing after 24 hours")
    inbox.wait_for(1)
    (message,) = follow_messages(inbox, "missing")
    assert message["title"] == "1 item still missing"
    assert message["message"].startswith("Searched after a deletion, not back after 24 hours: Show 1")
    assert lives(toolkit_config)[str(lib["lost"])]["state"] == "researched"  # not fixed

    # it still comes back within the follow-up window: repaired, told once more (as repaired)
    new = lib["season"] / "Show 1 - S01E01 - Late.mkv"
    media_file(lib["store"] / "late.mkv")
    os.symlink(lib["store"] / "late.mkv", new)
    sonarr.import_file(f"/tv/Show 1/Season 01/{new.name}", episode=lib["episode"])
    for _run in range(2):
        await follow_repairs(toolkit, now=later + timedelta(hours=2), pace=0)
    (item,) = await follows(toolkit_client)
    assert item["state"] == "repaired" and item["missing_at"] is not None
    inbox.wait_for(2)
    assert [m["title"] for m in follow_messages(inbox, "item")] == ["1 item still missing", "1 item repaired"]
    assert lives(toolkit_config)[str(lib["lost"])]["fixed_how"] == "repaired"


async def test_an_unreachable_sonarr_changes_nothing_and_says_nothing_missing(
        toolkit_app, toolkit_client, toolkit_config, tmp_path, monkeypatch, sonarr, inbox):
    lib = await deleted_and_searched(toolkit_app, toolkit_client, tmp_path, monkeypatch, sonarr, inbox)
    sonarr.grab(episode=lib["episode"])  # it did grab, but the toolkit cannot read that now
    sonarr.inject(503, times=100, path="/history")  # down behind its proxy, every retry too
    tally = await follow_repairs(toolkit_of_app(toolkit_app), now=utcnow() + timedelta(hours=48), pace=0)
    assert (tally["looked"], tally["unreachable"], tally["missing"], tally["notified"]) == (1, 1, 0, 0)
    (item,) = await follows(toolkit_client)
    assert item["state"] == "searching" and item["missing_at"] is None
    assert item["note"].startswith("last look: ") and item["checked_at"]
    assert follow_messages(inbox, "missing") == []
    assert lives(toolkit_config)[str(lib["lost"])]["state"] == "researched"
    # then nothing listens where Sonarr was: refused, the same
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("TOOLKIT_SONARR__URL", f"http://127.0.0.1:{closed.getsockname()[1]}")
    tally = await follow_repairs(toolkit_of_app(toolkit_app), now=utcnow() + timedelta(hours=49), pace=0)
    assert (tally["unreachable"], tally["missing"], tally["notified"]) == (1, 0, 0)
    (item,) = await follows(toolkit_client)
    assert "refused" in item["note"].lower() or "connect" in item["note"].lower(), item["note"]
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        assert db.execute("SELECT state, notified FROM symlink_repair_follows").fetchall() == [("searching", None)]


async def test_the_fake_history_follows_the_contract(sonarr):
    """/history, /history/since and /history/series answer what the documents describe."""
    import httpx

    series = sonarr.add_series("Show 2", "/tv/Show 2")
    _file, (episode,) = sonarr.add_episode_file(series, 1, [1])
    sonarr.grab(episode=episode)
    sonarr.import_file("/tv/Show 2/Season 01/new.mkv", episode=episode)
    headers = {"X-Api-Key": sonarr.api_key}
    async with httpx.AsyncClient(base_url=sonarr.base_url, headers=headers) as http:
        paged = (await http.get("/api/v3/history", params={"episodeId": episode["id"], "eventType": 3})).json()
        since = (await http.get("/api/v3/history/since", params={"date": "2020-01-01T00:00:00Z"})).json()
        by_series = (await http.get("/api/v3/history/series", params={"seriesId": series["id"],
                                                                      "eventType": "grabbed"})).json()
    assert [r["eventType"] for r in paged["records"]] == ["downloadFolderImported"]
    assert [r["eventType"] for r in since] == ["downloadFolderImported", "grabbed"]
    assert [r["eventType"] for r in by_series] == ["grabbed"]


def test_the_history_is_read_since_the_search_and_odd_records_say_nothing():
    from types import SimpleNamespace

    from toolkit.plugins.symlink.service.follow import read_history

    follow = SimpleNamespace(service="sonarr", search_ids=[7, 8], requested_at=utcnow().replace(tzinfo=None))
    late = (follow.requested_at + timedelta(minutes=5)).isoformat() + "Z"
    early = (follow.requested_at - timedelta(hours=2)).isoformat() + "Z"
    events = [
        {"eventType": "downloadFolderImported", "episodeId": 7, "date": early, "data": {"importedPath": "/tv/old.mkv"}},
        {"eventType": "grabbed", "episodeId": 7, "date": late},
        {"eventType": "downloadFolderImported", "episodeId": 7, "date": late, "data": {"importedPath": "/tv/7.mkv"}},
        "not a record", {"eventType": "grabbed", "episodeId": [8], "date": late},
        {"eventType": "downloadFolderImported", "episodeId": 9, "date": late, "data": None},
    ]
    grabbed, imported, paths = read_history(events, follow)
    assert grabbed is not None and imported is None and paths == []  # episode 8 is not back yet
    events.append({"eventType": "downloadFolderImported", "episodeId": 8, "date": late, "data": None})
    grabbed, imported, paths = read_history(events, follow)
    assert imported is not None and paths == []  # 8's record names no file: nothing to check
    events[-1]["data"] = {"importedPath": "/tv/8.mkv"}
    assert read_history(events, follow)[2] == ["/tv/7.mkv", "/tv/8.mkv"]
    assert read_history({"records": []}, follow) == (None, None, [])
