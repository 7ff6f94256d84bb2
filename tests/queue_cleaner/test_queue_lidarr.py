"""Lidarr where configured: its queue (API v1) is read like the others, a failed album
download is classified, planned with exactly its albums, blocklisted and searched again with
``AlbumSearch`` (``albumIds``, Lidarr's own command), and undone — against a fake Lidarr that
checks every request against Lidarr's official OpenAPI document."""
from __future__ import annotations

from .conftest import check, checks


def failed_album(lidarr, title: str = "Artist-Album-2020-FLAC-GRP", **options):
    artist = lidarr.add_artist("Artist", "/music/Artist")
    album = lidarr.add_album(artist, "Album")
    options.setdefault("status", "failed")
    options.setdefault("tracked_status", "error")
    options.setdefault("tracked_state", "downloadFailed")  # Lidarr's name for Sonarr's "failed"
    [record] = lidarr.add_queue_item(title, artist=artist, album=album, **options)
    return artist, album, record


async def test_a_failed_album_is_planned_searched_exactly_and_undone(arr, toolkit_client):
    lidarr = arr("lidarr")
    artist, album, record = failed_album(lidarr)
    assert (await check(toolkit_client))["entries"] == []  # one strike: not yet
    plan = await checks(toolkit_client, 2)
    [entry] = plan["entries"]
    assert (entry["app"], entry["rule"], entry["strikes"], entry["action"]) == (
        "lidarr", "failed", 3, "blocklist_search")
    assert entry["album_ids"] == [album["id"]] and entry["artist_id"] == artist["id"]
    assert entry["queue_id"] == record["id"] and entry["download_id"] == record["downloadId"]
    assert lidarr.queue_removals == [] and lidarr.commands == []  # a dry run changes nothing
    shown = await (await toolkit_client.get("/queue?tab=plan")).get_data(as_text=True)
    assert f"albums {album['id']}" in shown  # what the Plan tab says it will search

    response = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    [applied] = (await response.get_json())["applied"]
    assert applied["ok"] is True, applied
    assert lidarr.queue_removals == [(record["id"], {"removeFromClient": True, "blocklist": True,
                                                     "skipRedownload": True})]
    assert lidarr.command_calls() == [("AlbumSearch", {"albumIds": [album["id"]]})]
    assert applied["blocklist_id"] == lidarr.blocklist[0]["id"]

    [row] = await (await toolkit_client.get("/api/queue/journal")).get_json()
    assert row["app"] == "lidarr" and row["album_ids"] == [album["id"]]
    undone = await toolkit_client.post(f"/api/queue/journal/{row['id']}/undo")
    assert undone.status_code == 200, await undone.get_json()
    assert lidarr.blocklist == []
    assert lidarr.command_calls() == [("AlbumSearch", {"albumIds": [album["id"]]})] * 2


async def test_a_debrid_error_and_an_unknown_lidarr_item_are_classified(arr, toolkit_client, monkeypatch):
    monkeypatch.setenv("TOOLKIT_QUEUE__STRIKES", "1")
    lidarr = arr("lidarr")
    _artist, album, _record = failed_album(
        lidarr, status="warning", tracked_status="warning", tracked_state="downloading",
        messages=[("Artist-Album-2020-FLAC-GRP", ["qBittorrent is reporting an error"])])
    lidarr.add_queue_item("Someone-Else-2021-MP3")  # matched to no artist: listed all the same
    lidarr.add_queue_item("Artist-Live-2019-FLAC", artist=_artist, status="completed",
                          tracked_status="warning", tracked_state="importFailed",
                          messages=[("Artist-Live-2019-FLAC", ["Album match is not close enough"])])
    plan = await check(toolkit_client)
    rules = {e["title"]: (e["rule"], e.get("album_ids")) for e in plan["entries"]}
    assert rules["Artist-Album-2020-FLAC-GRP"] == ("debrid_error", [album["id"]])
    assert rules["Someone-Else-2021-MP3"] == ("unknown_item", [])
    assert rules["Artist-Live-2019-FLAC"] == ("import_blocked", [])
