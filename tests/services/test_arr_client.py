"""The *arr clients against fake servers that check each request against the official
OpenAPI documents."""
from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from toolkit.core.services.arr import (
    CommandState,
    LidarrClient,
    RadarrClient,
    SonarrClient,
    client_for,
)
from toolkit.core.services.errors import (
    ServiceAuthError,
    ServiceBusy,
    ServiceConflict,
    ServiceTimeout,
    ServiceUnreachable,
    WrongApplication,
)
from toolkit.core.services.settings import RadarrConnection, SonarrConnection


async def test_test_connection_reports_app_and_version(fake_sonarr, connect_to, http):
    async with SonarrClient(connect_to(fake_sonarr), http=http) as sonarr:
        result = await sonarr.test_connection()
    assert (result.app_name, result.version) == ("Sonarr", "4.0.15.2941")
    assert result.url == fake_sonarr.base_url
    assert result.to_dict()["ok"] is True
    assert fake_sonarr.requests == [("GET", "/api/v3/system/status")]


@pytest.mark.parametrize("kind, client_cls", [("radarr", RadarrClient), ("lidarr", LidarrClient)])
async def test_each_kind_uses_its_api_version(make_fake_arr, connect_to, kind, client_cls):
    fake = make_fake_arr(kind)
    client = client_for(connect_to(fake))
    assert isinstance(client, client_cls)
    async with client:
        result = await client.test_connection()
    assert result.app_name == kind.capitalize()
    assert fake.requests == [("GET", f"/api/{kind == 'lidarr' and 'v1' or 'v3'}/system/status")]


async def test_url_base_is_part_of_every_url(make_fake_arr, connect_to):
    fake = make_fake_arr("sonarr", url_base="/sonarr")
    async with SonarrClient(connect_to(fake, url_base="sonarr/")) as sonarr:
        await sonarr.test_connection()
    assert fake.requests == [("GET", "/sonarr/api/v3/system/status")]


async def test_missing_url_base_is_reported_as_not_sonarr(make_fake_arr, connect_to):
    fake = make_fake_arr("sonarr", url_base="/sonarr")
    async with SonarrClient(connect_to(fake, url_base="")) as sonarr:
        with pytest.raises(WrongApplication, match="URL base"):
            await sonarr.test_connection()


async def test_wrong_key_is_an_auth_error_without_the_key_in_message(fake_sonarr, connect_to):
    wrong = "f" * 32
    async with SonarrClient(connect_to(fake_sonarr, api_key=wrong)) as sonarr:
        with pytest.raises(ServiceAuthError) as caught:
            await sonarr.test_connection()
    assert caught.value.status_code == 401
    assert wrong not in str(caught.value) and wrong not in repr(caught.value.to_dict())
    assert caught.value.reason == "unauthorized"


async def test_radarr_behind_sonarr_settings_is_wrong_application(fake_radarr):
    connection = SonarrConnection(enabled=True, host="127.0.0.1", port=fake_radarr.port,
                                  api_key=fake_radarr.api_key)
    async with SonarrClient(connection) as sonarr:
        with pytest.raises(WrongApplication, match="this is Radarr, not Sonarr"):
            await sonarr.test_connection()


async def test_sonarr_client_at_lidarr_port_finds_no_v3_api(fake_lidarr, connect_to):
    connection = SonarrConnection(enabled=True, host="127.0.0.1", port=fake_lidarr.port,
                                  api_key=fake_lidarr.api_key)
    async with SonarrClient(connection) as sonarr:
        with pytest.raises(WrongApplication, match="no Sonarr API"):
            await sonarr.test_connection()
    fake_lidarr.violations.clear()  # the v3 path is indeed not in Lidarr's document


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_nothing_listening_is_unreachable():
    connection = RadarrConnection(enabled=True, host="127.0.0.1", port=_free_port(), api_key="k")
    async with RadarrClient(connection, backoff=0.01) as radarr:
        with pytest.raises(ServiceUnreachable, match="cannot connect"):
            await radarr.test_connection()


async def test_slow_answer_is_a_timeout(fake_sonarr, connect_to):
    fake_sonarr.latency = 1.0
    async with SonarrClient(connect_to(fake_sonarr, timeout=0.2)) as sonarr:
        with pytest.raises(ServiceTimeout, match="no answer within 0.2 s"):
            await sonarr.system_status()


async def test_429_and_5xx_bursts_are_retried_then_succeed(fake_sonarr, connect_to):
    fake_sonarr.inject(429, times=1, retry_after="0")
    fake_sonarr.inject(503, times=2)
    async with SonarrClient(connect_to(fake_sonarr), backoff=0.01) as sonarr:
        series = await sonarr.series()
    assert series == []
    assert fake_sonarr.requests == [("GET", "/api/v3/series")] * 4


async def test_persistent_5xx_gives_up_with_a_clear_error(fake_sonarr, connect_to):
    fake_sonarr.inject(500, times=10)
    async with SonarrClient(connect_to(fake_sonarr), retries=2, backoff=0.01) as sonarr:
        with pytest.raises(ServiceBusy, match="HTTP 500 after 3 attempts"):
            await sonarr.series()
    assert len(fake_sonarr.requests) == 3


async def test_command_post_is_not_repeated_after_a_500(fake_sonarr, connect_to):
    """A 500 may mean the command ran: sending it again could double a search."""
    fake_sonarr.inject(500, times=1, method="POST")
    async with SonarrClient(connect_to(fake_sonarr), backoff=0.01) as sonarr:
        with pytest.raises(ServiceBusy):
            await sonarr.send_command("MissingEpisodeSearch")
    assert fake_sonarr.requests == [("POST", "/api/v3/command")]


async def test_command_is_created_and_polled_to_completion(fake_sonarr, connect_to):
    series = fake_sonarr.add_series("Show", "/tv/Show")
    async with SonarrClient(connect_to(fake_sonarr)) as sonarr:
        queued = await sonarr.send_command("RescanSeries", seriesId=series["id"])
        assert queued.status == "queued" and not queued.finished
        final = await sonarr.wait_for_command(queued.id, poll_interval=0.01)
    assert final == CommandState(id=queued.id, name="RescanSeries", status="completed",
                                 result="successful", message="Completed")
    assert fake_sonarr.command_calls() == [("RescanSeries", {"seriesId": series["id"]})]


async def test_failed_command_is_reported(fake_radarr, connect_to):
    fake_radarr.fail_commands["MissingMoviesSearch"] = "No indexers available"
    async with RadarrClient(connect_to(fake_radarr)) as radarr:
        queued = await radarr.send_command("MissingMoviesSearch")
        final = await radarr.wait_for_command(queued.id, poll_interval=0.01)
    assert (final.status, final.succeeded, final.message) == ("failed", False, "No indexers available")


async def test_waiting_stops_when_asked_to_abort(make_fake_arr, connect_to):
    fake = make_fake_arr("sonarr", polls_to_complete=1000)
    async with SonarrClient(connect_to(fake)) as sonarr:
        queued = await sonarr.send_command("MissingEpisodeSearch")
        polls = iter(range(3))
        final = await sonarr.wait_for_command(queued.id, poll_interval=0.01,
                                              should_abort=lambda: next(polls, None) is None)
    assert final.status == "started" and not final.finished
    assert len([r for r in fake.requests if r[1].startswith("/api/v3/command/")]) == 4


async def test_delete_refused_by_failsafe_is_a_conflict(fake_sonarr, connect_to):
    series = fake_sonarr.add_series("Show", "/tv/Show")
    episode_file, _ = fake_sonarr.add_episode_file(series, 1, [1])
    fake_sonarr.root_folder_missing = True
    async with SonarrClient(connect_to(fake_sonarr)) as sonarr:
        with pytest.raises(ServiceConflict, match="409"):
            await sonarr.delete_episode_file(episode_file["id"])
    assert episode_file["id"] in fake_sonarr.items["episodefile"]


async def test_library_reads_match_the_documents(fake_sonarr, fake_radarr, connect_to, http):
    series = fake_sonarr.add_series("Show", "/tv/Show")
    episode_file, episodes = fake_sonarr.add_episode_file(series, 1, [1, 2])
    movie, movie_file = fake_radarr.add_movie("Film", "/movies/Film (2020)")
    sonarr = SonarrClient(connect_to(fake_sonarr), http=http)
    radarr = RadarrClient(connect_to(fake_radarr), http=http)
    assert [s["path"] for s in await sonarr.series()] == ["/tv/Show"]
    assert [f["id"] for f in await sonarr.episode_files(series["id"])] == [episode_file["id"]]
    assert [e["id"] for e in await sonarr.episodes(episode_file_id=episode_file["id"])] == [e["id"] for e in episodes]
    assert [m["id"] for m in await radarr.movies()] == [movie["id"]]
    assert [f["path"] for f in await radarr.movie_files(movie["id"])] == [movie_file["path"]]
    await sonarr.aclose()  # a shared client is left open for its owner
    assert not http.is_closed


async def test_shared_client_pools_connections_across_clients(fake_sonarr, connect_to):
    async with httpx.AsyncClient() as http:
        clients = [SonarrClient(connect_to(fake_sonarr), http=http) for _ in range(3)]
        await asyncio.gather(*(c.series() for c in clients))
    assert len(fake_sonarr.requests) == 3


def test_client_refuses_a_connection_of_another_kind(fake_radarr, connect_to):
    with pytest.raises(TypeError, match="needs a Sonarr connection"):
        SonarrClient(connect_to(fake_radarr))


async def test_queue_reads_every_page_with_unknown_items(fake_sonarr, connect_to, http):
    series = fake_sonarr.add_series("Show", "/tv/Show")
    episodes = fake_sonarr.add_episodes(series, 1, [1, 2, 3])
    fake_sonarr.add_queue_item("Show.S01", series=series, episodes=episodes)
    fake_sonarr.add_queue_item("Unknown.Release")  # matched to no series
    client = SonarrClient(connect_to(fake_sonarr), http=http)
    records = await client.queue(page_size=2)
    assert [r["title"] for r in records] == ["Show.S01"] * 3 + ["Unknown.Release"]
    assert records[0]["series"]["id"] == series["id"] and records[0]["episode"]["id"] == episodes[0]["id"]
    assert sum(path.startswith("/api/v3/queue?") for _, path in fake_sonarr.requests) == 2


async def test_queue_removal_blocklist_and_its_undo(fake_radarr, connect_to, http):
    movie, _ = fake_radarr.add_movie("Film", "/movies/Film", with_file=False)
    [record] = fake_radarr.add_queue_item("Film.2020", movie=movie)
    client = RadarrClient(connect_to(fake_radarr), http=http)
    await client.remove_from_queue(record["id"], remove_from_client=True, blocklist=True)
    assert fake_radarr.queue_removals == [(record["id"], {"removeFromClient": True, "blocklist": True,
                                                          "skipRedownload": True})]
    [entry] = (await client.blocklist_page(movieIds=[movie["id"]]))["records"]
    assert entry["sourceTitle"] == "Film.2020"
    await client.delete_blocklist(entry["id"])
    assert (await client.blocklist_page())["records"] == []
    assert await client.health() == [] and await client.tags() == []
