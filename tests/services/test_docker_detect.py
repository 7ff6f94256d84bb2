"""Docker auto-detection against a fake Engine API on a unix socket, reached by the real
docker SDK through DOCKER_HOST (no engine runs here)."""
from __future__ import annotations

import os
import socket

import docker
import pytest

from fakes.docker_engine import FakeDockerEngine, load_containers

from toolkit.core.services import DockerUnavailable
from toolkit.core.services.docker_detect import _kind_of, detect_services

SONARR_KEY = "0123456789abcdef0123456789abcdef"       # in sonarr's config.xml
RADARR_ENV_KEY = "feedfacefeedfacefeedfacefeedface"   # hotio env, wins over config.xml
LIDARR_KEY = "abcdefabcdefabcdefabcdefabcdefab"


@pytest.fixture
def engine(tmp_path, monkeypatch):
    fake = FakeDockerEngine(tmp_path / "docker.sock").start()
    monkeypatch.setenv("DOCKER_HOST", fake.docker_host)
    yield fake
    fake.stop()
    assert fake.unknown == [], "the SDK asked for routes the fake does not serve"


def _by_name(result):
    return {p.container_name: p for p in result.proposals}


def test_toolkit_in_a_container_on_a_custom_network(engine):
    result = detect_services(self_container="redriva-toolkit")
    assert result.toolkit_container == "redriva-toolkit" and result.docker_version == "27.5.1"
    found = _by_name(result)
    assert sorted(found) == ["lidarr", "radarr", "sonarr", "sonarr-4k"]  # not postgres, not itself

    sonarr = found["sonarr"]  # linuxserver, same user-defined network, nothing published
    assert (sonarr.kind, sonarr.flavor, sonarr.matched_by) == ("sonarr", "linuxserver", "image")
    assert sonarr.base_url == "http://sonarr:8989"
    assert "same network 'media'" in sonarr.address_source
    assert sonarr.api_key.get_secret_value() == SONARR_KEY
    assert sonarr.api_key_source == "/config/config.xml (read through the Engine API)"

    radarr = found["radarr"]  # hotio on the default bridge, port published 17878 -> 7878
    assert (radarr.flavor, radarr.networks) == ("hotio", ["bridge"])
    assert radarr.base_url == "http://172.20.0.1:17878/radarr"  # via the gateway; URL base from config.xml
    assert "published host port 17878 -> 7878/tcp" in radarr.address_source
    assert radarr.api_key.get_secret_value() == RADARR_ENV_KEY
    assert radarr.api_key_source == "environment RADARR__AUTH__APIKEY"

    lidarr = found["lidarr"]  # behind a VPN container: reached through it
    assert lidarr.base_url == "http://gluetun:8686/lidarr"
    assert "through container 'gluetun'" in lidarr.address_source
    assert lidarr.api_key.get_secret_value() == LIDARR_KEY

    other = found["sonarr-4k"]  # custom image, found by name; stopped; isolated network
    assert (other.matched_by, other.state, other.base_url, other.api_key) == ("name", "exited", None, None)
    assert any("not reachable" in w for w in other.warnings)
    assert any("could not read /config/config.xml" in w for w in other.warnings)
    # config.xml came through the Engine API's archive endpoint, nothing else
    archive_calls = [p for _, p in engine.requests if "/archive" in p]
    assert len(archive_calls) == 4 and all("path=%2Fconfig%2Fconfig.xml" in p for p in archive_calls)


def test_toolkit_on_the_host(engine, monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "my-nas")
    found = _by_name(detect_services())
    assert found["sonarr"].base_url == "http://172.20.0.3:8989"
    assert "container IP on network 'media'" in found["sonarr"].address_source
    assert found["radarr"].base_url == "http://localhost:17878/radarr"
    assert found["lidarr"].base_url == "http://localhost:8686/lidarr"


def test_own_container_is_found_by_hostname(engine, monkeypatch):
    toolkit_id = load_containers(["redriva-toolkit"])["redriva-toolkit"]["Id"]
    monkeypatch.setattr(socket, "gethostname", lambda: toolkit_id[:12])
    result = detect_services()
    assert result.toolkit_container == "redriva-toolkit"
    assert _by_name(result)["sonarr"].base_url == "http://sonarr:8989"


def test_proposals_are_not_saved_and_never_show_the_key(engine):
    result = detect_services(self_container="redriva-toolkit")
    sonarr = _by_name(result)["sonarr"]
    connection = sonarr.connection()
    assert (connection.enabled, connection.host, connection.port) == (False, "sonarr", 8989)
    assert connection.api_key.get_secret_value() == SONARR_KEY
    shown = repr(result.to_dict()) + repr(sonarr) + repr(connection)
    assert SONARR_KEY not in shown and RADARR_ENV_KEY not in shown
    assert result.to_dict()["proposals"][0]["api_key_found"] is True


def test_config_reading_can_be_skipped(engine):
    sonarr = _by_name(detect_services(self_container="redriva-toolkit", read_config=False))["sonarr"]
    assert sonarr.api_key is None and any("no API key" in w for w in sonarr.warnings)
    assert not [p for _, p in engine.requests if "/archive" in p]


def test_no_socket_is_docker_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    with pytest.raises(DockerUnavailable, match="no Docker socket found"):
        detect_services()


def test_dead_engine_socket_is_docker_unavailable(tmp_path, monkeypatch):
    """A socket file left behind by a stopped engine: connections are refused."""
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/stale.sock")
    with pytest.raises(DockerUnavailable, match="Docker is not available") as caught:
        detect_services()
    assert "Connection refused" in caught.value.detail or "ConnectionRefused" in caught.value.detail


def test_socket_without_permission_is_docker_unavailable(engine):
    """Root may open any socket, so the attempt runs in a forked child as 'nobody'."""
    os.chmod(engine.socket_path, 0o600)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to nobody, try, report through the pipe
        message = "no error"
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            detect_services()
        except DockerUnavailable as exc:
            message = exc.message
        except BaseException as exc:  # pragma: no cover - reported to the parent
            message = f"unexpected {exc!r}"
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        message = pipe.read()
    assert "permission denied on the Docker socket" in message, message


@pytest.mark.parametrize("image, kind", [
    ("lscr.io/linuxserver/sonarr:latest", "sonarr"),
    ("ghcr.io/linuxserver/radarr:5.26.2", "radarr"),
    ("linuxserver/lidarr", "lidarr"),
    ("ghcr.io/hotio/sonarr:release@sha256:" + "a" * 64, "sonarr"),
    ("binhex/arch-radarr", "radarr"),
    ("localhost:5000/sonarr", "sonarr"),
    ("ghcr.io/someone/sonarr-exporter:1", None),  # a companion tool, not Sonarr
    ("postgres:16", None),
    ("ghcr.io/someone/sonarrtools:1", None),
])
def test_kind_from_the_image(image, kind):
    found = _kind_of({"Name": "/whatever", "Config": {"Image": image}})
    assert (found[0].value if found else None) == kind


@pytest.mark.parametrize("name, kind", [
    ("sonarr-4k", "sonarr"), ("media_radarr_1", "radarr"), ("sonarr-exporter", None), ("sonarrish", None),
])
def test_kind_from_the_container_name(name, kind):
    found = _kind_of({"Name": f"/{name}", "Config": {"Image": "example/tool:1"}})
    assert (found[0].value if found else None) == kind
