"""Jellyfin / Emby / Plex refresh against real HTTP fakes that follow their documented API."""
from __future__ import annotations

import pytest

from fakes.checked import checked_fakes
from fakes.mediaserver import SECRET_MARKER, FakeMediaServer
from toolkit.core.services import mediaserver
from toolkit.core.services.errors import BadResponse, ServiceAuthError
from toolkit.core.services.mediaserver import (
    EmbySettings,
    JellyfinSettings,
    MediaServerClient,
    PlexSettings,
    affected_folders,
    refresh_folders,
)


@pytest.fixture
def make_fake():
    yield from checked_fakes(lambda kind, **options: FakeMediaServer(kind, **options).start(),
                             "the servers' documented API")


def settings_for(fake: FakeMediaServer, **values):
    model = {"jellyfin": JellyfinSettings, "emby": EmbySettings, "plex": PlexSettings}[fake.kind]
    secret = "token" if fake.kind == "plex" else "api_key"
    return model(url=fake.url, **{secret: fake.token}, **values)


LINKS = ["/media/tv/Show A/Season 1/a1.mkv", "/media/tv/Show A/Season 1/a2.mkv",
         "/media/tv/Show B/Season 2/b1.mkv", "/media/movies/Film (2020)/Film.mkv"]


def test_affected_folders_are_each_folder_once_and_nested_ones_dropped():
    assert affected_folders(LINKS + ["/media/tv/Show B/b.nfo"]) == [
        "/media/movies/Film (2020)", "/media/tv/Show A/Season 1", "/media/tv/Show B"]


@pytest.mark.parametrize("kind", ["jellyfin", "emby"])
async def test_jellyfin_and_emby_get_every_folder_in_one_request_through_the_mappings(make_fake, kind):
    fake = make_fake(kind)
    server = settings_for(fake, path_mappings="/media/tv = /data/tv; /media/movies = /data/movies")
    report = await refresh_folders([server], LINKS, mounts_down=[])
    assert report.ok and report.servers[0]["requests"] == 1
    assert fake.refreshes() == [[
        {"Path": "/data/movies/Film (2020)", "UpdateType": "Modified"},
        {"Path": "/data/tv/Show A/Season 1", "UpdateType": "Modified"},
        {"Path": "/data/tv/Show B/Season 2", "UpdateType": "Modified"}]]


async def test_a_restore_is_reported_as_created(make_fake):
    fake = make_fake("jellyfin")
    await refresh_folders([settings_for(fake)], LINKS[:1], mounts_down=[], update_type="Created")
    assert fake.refreshes() == [[{"Path": "/media/tv/Show A/Season 1", "UpdateType": "Created"}]]


async def test_plex_refreshes_each_folder_in_the_section_whose_location_holds_it(make_fake):
    fake = make_fake("plex", sections={"1": ["/data/movies"], "2": ["/data/tv", "/data/tv4k"], "3": ["/data/music"]})
    server = settings_for(fake, path_mappings=[{"toolkit_prefix": "/media", "arr_prefix": "/data"}])
    report = await refresh_folders([server], LINKS + ["/media/other/x.mkv"], mounts_down=[])
    assert sorted(fake.refreshes()) == [("1", "/data/movies/Film (2020)"), ("2", "/data/tv/Show A/Season 1"),
                                       ("2", "/data/tv/Show B/Season 2")]
    entry = report.servers[0]
    # one section listing, one partial scan per folder; a folder in no library is not sent
    assert entry["ok"] and entry["requests"] == 4 and entry["outside_libraries"] == ["/data/other"]
    assert [c.path for c in fake.calls][0] == "/library/sections"


async def test_plex_past_the_cap_scans_the_sections_locations_instead(make_fake, monkeypatch):
    monkeypatch.setattr(mediaserver, "PLEX_MAX_PATHS", 1)
    fake = make_fake("plex", sections={"2": ["/data/tv", "/data/tv4k"]})
    await refresh_folders([settings_for(fake)], ["/data/tv/A/1.mkv", "/data/tv/B/1.mkv"], mounts_down=[])
    assert fake.refreshes() == [("2", "/data/tv")]


async def test_nothing_is_sent_while_a_mount_is_down(make_fake):
    fakes = [make_fake("jellyfin"), make_fake("plex")]
    report = await refresh_folders([settings_for(f) for f in fakes], LINKS,
                                   mounts_down=[{"mount_point": "/mnt/zurg", "reason": "not mounted"}])
    assert not report.ok and "/mnt/zurg (not mounted)" in report.skipped
    assert report.servers == [] and all(f.calls == [] for f in fakes)


async def test_one_server_failing_does_not_stop_the_others_nor_show_its_answer(make_fake):
    broken, working = make_fake("emby", fail_status=500), make_fake("jellyfin")
    report = await refresh_folders([settings_for(broken), settings_for(working)], LINKS[:1], mounts_down=[])
    failed, done = report.servers
    assert not failed["ok"] and "HTTP 500" in failed["error"] and done["ok"]
    assert SECRET_MARKER not in str(report.as_dict()) and broken.token not in str(report.as_dict())
    assert len(working.refreshes()) == 1


@pytest.mark.parametrize("kind", ["jellyfin", "emby", "plex"])
async def test_connection_test_names_the_server_and_nothing_else(make_fake, kind):
    fake = make_fake(kind)
    client = MediaServerClient(settings_for(fake))
    try:
        result = await client.test_connection()
    finally:
        await client.aclose()
    assert set(result) == {"ok", "kind", "server_name", "version"} and result["server_name"]
    assert SECRET_MARKER not in str(result)


async def test_a_wrong_key_is_named_and_the_answer_body_never_shown(make_fake):
    fake = make_fake("plex")
    client = MediaServerClient(PlexSettings(url=fake.url, token="wrong"))
    with pytest.raises(ServiceAuthError) as refused:
        await client.test_connection()
    await client.aclose()
    assert "token was refused" in refused.value.message and SECRET_MARKER not in refused.value.message
    fake.fail_status = 502
    client = MediaServerClient(settings_for(fake))
    with pytest.raises(BadResponse) as failed:
        await client.test_connection()
    await client.aclose()
    assert "HTTP 502" in failed.value.message and SECRET_MARKER not in failed.value.message


def test_settings_refuse_an_address_without_scheme_and_read_mappings_from_text():
    with pytest.raises(ValueError):
        JellyfinSettings(url="jellyfin:8096")
    settings = PlexSettings(url="http://plex:32400/", token="t", path_mappings='[{"toolkit_prefix": "/a", "arr_prefix": "/b"}]')
    assert settings.url == "http://plex:32400" and settings.configured
    assert settings.path_mappings[0].arr_prefix == "/b"
    assert not JellyfinSettings(url="http://jellyfin:8096").configured  # no key


# -- as the host offers it: settings namespaces, the environment, the test route, the API --
class _Mounts:
    def __init__(self, down: list[dict]):
        self._down = down

    async def down(self) -> list[dict]:
        return self._down


async def test_servers_from_the_environment_are_masked_tested_and_refreshed(make_fake, toolkit_app, toolkit_client,
                                                                            monkeypatch):
    from toolkit.api import refresh_media_servers
    from toolkit.web.app import current_toolkit

    jellyfin, plex = make_fake("jellyfin"), make_fake("plex", sections={"1": ["/srv/tv"]})
    monkeypatch.setenv("TOOLKIT_JELLYFIN__URL", jellyfin.url)
    monkeypatch.setenv("TOOLKIT_JELLYFIN__API_KEY", jellyfin.token)
    monkeypatch.setenv("TOOLKIT_JELLYFIN__PATH_MAPPINGS", "/media/tv = /srv/tv")
    monkeypatch.setenv("TOOLKIT_PLEX__URL", plex.url)
    monkeypatch.setenv("TOOLKIT_PLEX__TOKEN", plex.token)
    monkeypatch.setenv("TOOLKIT_PLEX__PATH_MAPPINGS", "/media/tv = /srv/tv")
    shown = await (await toolkit_client.get("/api/toolkit/settings/jellyfin")).get_json()
    assert shown["values"]["api_key"] == "********" and jellyfin.token not in str(shown)
    assert shown["overridden_by_env"] == ["api_key", "path_mappings", "url"]
    tested = await toolkit_client.post("/api/toolkit/mediaservers/plex/test")
    assert tested.status_code == 200 and (await tested.get_json())["server_name"] == "fake plex"
    emby = await toolkit_client.post("/api/toolkit/mediaservers/emby/test")
    assert emby.status_code == 422  # not configured
    assert (await toolkit_client.post("/api/toolkit/mediaservers/kodi/test")).status_code == 404

    async with toolkit_app.app_context():
        toolkit = current_toolkit()
        toolkit.services["mounts"] = _Mounts([{"mount_point": "/mnt/remote", "reason": "not answering"}])
        refused = await refresh_media_servers(toolkit, ["/media/tv/Show/S01/e1.mkv"])
        assert refused["skipped"].startswith("not asked while a mount is down or degraded") and jellyfin.calls == []
        toolkit.services["mounts"] = _Mounts([])
        slow = await refresh_media_servers(toolkit, ["/media/tv/Show/S01/e1.mkv"], scan_mounts=[
            {"mount_point": "/mnt/remote", "degraded": True}, {"mount_point": "/mnt/other", "degraded": False}])
        assert slow["skipped"] == "not asked while a mount is down or degraded: /mnt/remote (degraded (slow) during the scan)"
        assert jellyfin.calls == []
        done = await refresh_media_servers(toolkit, ["/media/tv/Show/S01/e1.mkv"],
                                           scan_mounts=[{"mount_point": "/mnt/other", "degraded": False}])
    assert done["ok"] and [s["server"] for s in done["servers"]] == ["jellyfin", "plex"]
    assert jellyfin.refreshes() == [[{"Path": "/srv/tv/Show/S01", "UpdateType": "Modified"}]]
    assert plex.refreshes() == [("1", "/srv/tv/Show/S01")]


async def test_the_connection_test_route_never_passes_on_the_servers_answer(make_fake, toolkit_client, monkeypatch):
    fake = make_fake("emby", fail_status=500)
    await toolkit_client.post("/api/toolkit/settings/emby", json={"url": fake.url, "api_key": fake.token})
    response = await toolkit_client.post("/api/toolkit/mediaservers/emby/test")
    text = await response.get_data(as_text=True)
    assert response.status_code == 502 and "HTTP 500" in text
    assert SECRET_MARKER not in text and fake.token not in text
    fake.stop()
    response = await toolkit_client.post("/api/toolkit/mediaservers/emby/test")
    assert response.status_code == 503 and "cannot connect" in await response.get_data(as_text=True)


# -- Plex's empty trash: only when safe ------------------------------------------------------
async def test_plex_trash_is_emptied_after_the_refresh_when_it_holds_few_items(make_fake):
    fake = make_fake("plex", sections={"1": ["/media/movies"], "2": ["/media/tv"]}, trash={"1": 2, "2": 1})
    report = await refresh_folders([settings_for(fake, empty_trash=True)], LINKS, mounts_down=[])
    assert report.servers[0]["empty_trash"] == {"emptied": 3, "counts": {"1": 2, "2": 1}, "skipped": None}
    assert fake.trash == {"1": 0, "2": 0}
    assert [(c.method, c.path) for c in fake.calls if c.method == "PUT"] == [
        ("PUT", "/library/sections/1/emptyTrash"), ("PUT", "/library/sections/2/emptyTrash")]


async def test_plex_trash_past_the_limit_is_left_and_the_report_says_why(make_fake):
    """A mount that was away while Plex scanned leaves the whole library in the trash: a
    count past the user's limit is that, not a few replaced files."""
    fake = make_fake("plex", sections={"1": ["/media/movies"], "2": ["/media/tv"]}, trash={"1": 40, "2": 3})
    report = await refresh_folders([settings_for(fake, empty_trash=True, empty_trash_max=10)], LINKS, mounts_down=[])
    entry = report.servers[0]
    assert entry["ok"] and entry["empty_trash"]["emptied"] == 0
    assert entry["empty_trash"]["skipped"] == ("43 items would be removed from the trash, more than the limit of 10: "
                                               "not emptied (check the mounts, then empty it in Plex)")
    assert fake.trash == {"1": 40, "2": 3} and not [c for c in fake.calls if c.method == "PUT"]


async def test_plex_trash_is_never_counted_nor_emptied_while_a_mount_is_down_or_when_off(make_fake):
    fake = make_fake("plex", trash={"1": 1})
    report = await refresh_folders([settings_for(fake, empty_trash=True)], LINKS,
                                   mounts_down=[{"mount_point": "/mnt/zurg", "reason": "not mounted"}])
    assert "not asked while a mount is down" in report.skipped and fake.calls == []
    report = await refresh_folders([settings_for(fake)], LINKS, mounts_down=[])  # off: the default
    assert "empty_trash" not in report.servers[0]
    assert fake.trash == {"1": 1} and not [c for c in fake.calls if "trash" in str(c.query) or c.method == "PUT"]


async def test_a_trash_count_plex_does_not_give_fails_closed(make_fake, monkeypatch):
    fake = make_fake("plex", trash={"1": 1})
    original = fake.answer

    def no_total(method, raw_path, headers, raw_body):
        status, payload = original(method, raw_path, headers, raw_body)
        if isinstance(payload, dict) and "librarySectionID" in payload.get("MediaContainer", {}):
            payload = {"MediaContainer": {"size": 0}}
        return status, payload

    monkeypatch.setattr(fake, "answer", no_total)
    report = await refresh_folders([settings_for(fake, empty_trash=True)], LINKS, mounts_down=[])
    entry = report.servers[0]
    assert entry["ok"] and entry["empty_trash"]["skipped"].startswith("the trash was not emptied: ")
    assert "trash count is not a number" in entry["empty_trash"]["skipped"] and fake.trash == {"1": 1}
