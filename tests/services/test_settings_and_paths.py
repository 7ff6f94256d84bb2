"""Connection settings validation (shown as HTTP 422 by the web page) and path mappings."""
from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from toolkit.core.services import PathMapper, PathMapping, RepairSettings, is_under
from toolkit.core.services.arr import SonarrClient
from toolkit.core.services.settings import LidarrConnection, RadarrConnection, SonarrConnection

KEY = "0123456789abcdef0123456789abcdef"


def test_defaults_per_kind():
    assert (SonarrConnection().port, RadarrConnection().port, LidarrConnection().port) == (8989, 7878, 8686)
    assert SonarrConnection().enabled is False
    assert RadarrConnection.model_validate({"host": "radarr"}).port == 7878  # the web form's path
    assert RepairSettings().policy == "targeted" and RepairSettings().search_unmonitored is False


def test_base_url_with_url_base_ssl_and_ipv6():
    c = SonarrConnection(host="sonarr", api_key=KEY, url_base="sonarr/", ssl=True)
    assert (c.base_url, c.api_url) == ("https://sonarr:8989/sonarr", "https://sonarr:8989/sonarr/api/v3")
    assert LidarrConnection(host="[::1]", port=1).api_url == "http://[::1]:1/api/v1"


@pytest.mark.parametrize("field, value, message", [
    ("host", "http://sonarr:8989", "no http://"),
    ("host", "sonarr:8989", "port"),
    ("host", "bad host", "not a valid host name"),
    ("port", 0, "greater than or equal to 1"),
    ("port", 70000, "less than or equal to 65535"),
    ("url_base", "/a b", "URL base"),
    ("api_key", "abc def", "spaces"),
])
def test_bad_fields_give_field_errors(field, value, message):
    with pytest.raises(ValidationError) as caught:
        SonarrConnection(**{"host": "sonarr", "api_key": KEY, field: value})
    error = caught.value.errors()[0]
    assert error["loc"] == (field,) and message in error["msg"]


def test_enabled_needs_host_and_key():
    with pytest.raises(ValidationError, match="Sonarr is enabled but host and api_key are empty"):
        SonarrConnection(enabled=True)
    assert SonarrConnection(enabled=False).host == ""


def test_api_key_never_shown(caplog):
    connection = SonarrConnection(enabled=True, host="sonarr", api_key=KEY)
    client = SonarrClient(connection)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").info("%r %s %r", connection, connection, client)
    shown = repr(connection) + str(connection) + connection.model_dump_json() + repr(client) + caplog.text
    assert KEY not in shown
    assert connection.api_key.get_secret_value() == KEY


def test_is_under_ends_at_a_separator():
    assert is_under("/tv/Show/S01/e.mkv", "/tv/Show")
    assert is_under("/tv/Show/S01/e.mkv", "/tv/Show/")
    assert is_under("/tv/Show", "/tv/Show")
    assert not is_under("/tv/Show 2/e.mkv", "/tv/Show")
    assert not is_under("/tv/Showcase", "/tv/Show")
    assert is_under(r"D:\TV\Show\e.mkv", "d:\\tv\\show")  # Windows: case-insensitive


def test_mapping_uses_the_longest_prefix_and_both_directions():
    mapper = PathMapper([
        {"toolkit_prefix": "/data/media", "arr_prefix": "/media"},
        {"toolkit_prefix": "/data/media/tv/", "arr_prefix": "/tv"},
    ])
    assert mapper.to_arr("/data/media/tv/Show/e.mkv") == "/tv/Show/e.mkv"
    assert mapper.to_arr("/data/media/movies/F/f.mkv") == "/media/movies/F/f.mkv"
    assert mapper.to_arr("/data/mediaX/f.mkv") == "/data/mediaX/f.mkv"  # unmapped passes unchanged
    assert mapper.to_toolkit("/tv/Show/e.mkv") == "/data/media/tv/Show/e.mkv"


def test_mapping_to_a_windows_arr():
    mapper = PathMapper([PathMapping(toolkit_prefix="/mnt/tv", arr_prefix="D:\\TV\\")])
    assert mapper.to_arr("/mnt/tv/Show/Season 01/e.mkv") == "D:\\TV\\Show\\Season 01\\e.mkv"
    assert mapper.to_toolkit("D:\\TV\\Show\\e.mkv") == "/mnt/tv/Show/e.mkv"


@pytest.mark.parametrize("mapping, message", [
    ({"toolkit_prefix": "media", "arr_prefix": "/tv"}, "toolkit path must be absolute"),
    ({"toolkit_prefix": "/media", "arr_prefix": "tv"}, "*arr path must be absolute"),
    ({"toolkit_prefix": "/media"}, "Field required"),
])
def test_bad_mappings_are_refused(mapping, message):
    with pytest.raises(ValidationError, match=message.replace("*", r"\*")):
        PathMapper([mapping])
