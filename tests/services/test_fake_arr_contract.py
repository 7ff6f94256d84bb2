"""The fake *arr must refuse what the real API documents do not allow; otherwise the
client tests would prove nothing."""
from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def raw(fake_sonarr):
    with httpx.Client(base_url=fake_sonarr.base_url, headers={"X-Api-Key": fake_sonarr.api_key}) as client:
        yield client
    fake_sonarr.violations.clear()  # these tests provoke violations on purpose


@pytest.mark.parametrize("method, path, body, expected", [
    ("GET", "/api/v3/series?seriesid=1", None, "query parameter 'seriesid' is not in the document"),
    ("GET", "/api/v3/episodefile?seriesId=abc", None, "is not integer"),
    ("GET", "/api/v3/nothing/here", None, "no such path"),
    ("PATCH", "/api/v3/series", None, "method not in the document"),
    ("POST", "/api/v3/command", {"name": "RescanEverything"}, "unknown Sonarr command"),
    ("POST", "/api/v3/command", {"name": "EpisodeSearch"}, "required field 'episodeIds' missing"),
    ("POST", "/api/v3/command", {"name": "EpisodeSearch", "episodeIds": []}, "non-empty"),
    ("POST", "/api/v3/command", {"name": "RescanSeries", "seriesID": 1}, "'seriesID' is not in the command table"),
    ("POST", "/api/v3/command", {"name": "RescanMovie", "movieId": 1}, "unknown Sonarr command"),
    ("POST", "/api/v3/command", {"name": "RescanSeries", "seriesId": "1"}, "must be a non-empty integer"),
    ("POST", "/api/v3/rootfolder", {"path": 5}, "5 is not of type 'string'"),
])
def test_requests_off_the_document_are_refused(raw, fake_sonarr, method, path, body, expected):
    response = raw.request(method, path, json=body)
    assert response.status_code >= 400
    assert len(fake_sonarr.violations) == 1 and expected in fake_sonarr.violations[0]
    assert fake_sonarr.commands == []


def test_command_names_match_case_insensitively_like_sonarr(raw, fake_sonarr):
    response = raw.post("/api/v3/command", json={"name": "missingEpisodeSearch"})
    assert response.status_code == 201 and response.json()["name"] == "MissingEpisodeSearch"
    assert fake_sonarr.violations == []


def test_key_is_required_except_on_ping(fake_sonarr):
    with httpx.Client(base_url=fake_sonarr.base_url) as client:
        assert client.get("/api/v3/system/status").status_code == 401
        assert client.get("/ping").json() == {"status": "OK"}


def test_rescan_drops_records_of_files_missing_on_disk(tmp_path, make_fake_arr):
    (tmp_path / "Show" / "Season 01").mkdir(parents=True)
    fake = make_fake_arr("sonarr", disk_map={"/tv": str(tmp_path)})
    series = fake.add_series("Show", "/tv/Show")
    kept, _ = fake.add_episode_file(series, 1, [1])
    lost, lost_episodes = fake.add_episode_file(series, 1, [2])
    (tmp_path / "Show" / kept["relativePath"]).write_bytes(b"x")
    with httpx.Client(base_url=fake.base_url, headers={"X-Api-Key": fake.api_key}) as client:
        command = client.post("/api/v3/command", json={"name": "RescanSeries", "seriesId": series["id"]}).json()
        while client.get(f"/api/v3/command/{command['id']}").json()["status"] != "completed":
            pass
        episodes = client.get("/api/v3/episode", params={"seriesId": series["id"]}).json()
    assert list(fake.items["episodefile"]) == [kept["id"]]
    assert [e["hasFile"] for e in episodes if e["id"] == lost_episodes[0]["id"]] == [False]
