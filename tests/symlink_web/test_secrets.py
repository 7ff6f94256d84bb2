"""Secrets stay where they were given: a stored Sonarr/Radarr key never goes to another
server, a connection test never repeats what another server answered, and a key found by
Docker detection applies only to the container chosen by its full id."""
from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from toolkit.core.settings import MASK

from fakes.arr_server import FakeArr
from fakes.docker_engine import FakeDockerEngine

PRIVATE_PAGE = "internal admin page: database password hunter2"


class Listener:
    """An HTTP server that is not Sonarr: it records the headers it receives and answers
    every request with ``status`` and a private page."""

    def __init__(self, status: int = 200, content_type: str = "text/html"):
        self.headers: list[dict[str, str]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                listener.headers.append(dict(self.headers))
                data = PRIVATE_PAGE.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_sonarr():
    fake = FakeArr("sonarr").start()
    yield fake
    fake.stop()


@pytest.fixture
def listeners():
    made: list[Listener] = []

    def make(**options) -> Listener:
        made.append(Listener(**options))
        return made[-1]

    yield make
    for listener in made:
        listener.close()


def stored_key(toolkit_config) -> str:
    """The key as the database holds it: in the host's ``sonarr`` settings, every plugin's."""
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        row = db.execute("SELECT \"values\" FROM toolkit_settings WHERE namespace = 'sonarr'").fetchone()
    return json.loads(row[0])["api_key"]


async def configure(client, **fields) -> dict:
    response = await client.post("/api/symlink/config", json=fields)
    body = await response.get_json()
    assert response.status_code == 200, body
    return body


async def test_a_stored_key_is_never_sent_to_another_server(toolkit_client, toolkit_config,
                                                            fake_sonarr, listeners):
    """The reported sequence: save a working Sonarr, change only the port to another
    server, test the connection: the other server must not receive the key."""
    await configure(toolkit_client, sonarr_enabled=True, sonarr_host="127.0.0.1",
                    sonarr_port=fake_sonarr.port, sonarr_api_key=fake_sonarr.api_key)
    ok = await (await toolkit_client.post("/api/symlink/test/services",
                                          json={"services": ["sonarr"]})).get_json()
    assert ok["sonarr"]["ok"] is True
    elsewhere = listeners()
    body = await configure(toolkit_client, sonarr_port=elsewhere.port, sonarr_api_key=MASK)
    assert body["sonarr_api_key"] == "" and stored_key(toolkit_config) == ""
    answer = await toolkit_client.post("/api/symlink/test/services", json={"services": ["sonarr"]})
    text = await answer.get_data(as_text=True)
    assert fake_sonarr.api_key not in text and PRIVATE_PAGE not in text
    assert all(h.get("X-Api-Key") != fake_sonarr.api_key for h in elsewhere.headers)


async def test_the_host_alone_moves_the_key_too_and_a_new_key_may_come_along(
        toolkit_client, toolkit_config):
    key, other = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
    await configure(toolkit_client, sonarr_enabled=True, sonarr_host="sonarr", sonarr_api_key=key)
    await configure(toolkit_client, max_workers=4, sonarr_api_key=MASK)  # the same server
    assert stored_key(toolkit_config) == key
    await configure(toolkit_client, sonarr_host="sonarr.attacker.example")
    assert stored_key(toolkit_config) == ""
    await configure(toolkit_client, sonarr_host="sonarr2", sonarr_api_key=other)
    assert stored_key(toolkit_config) == other


@pytest.mark.parametrize("status,content_type", [(200, "text/html"), (500, "text/plain"),
                                                 (404, "text/html"), (200, "application/json")])
async def test_a_connection_test_never_repeats_the_remote_answer(toolkit_client, listeners,
                                                                 status, content_type):
    other = listeners(status=status, content_type=content_type)
    await configure(toolkit_client, sonarr_enabled=True, sonarr_host="127.0.0.1",
                    sonarr_port=other.port, sonarr_api_key="0" * 32)
    answer = await toolkit_client.post("/api/symlink/test/services", json={"services": ["sonarr"]})
    result = (await answer.get_json())["sonarr"]
    assert result["ok"] is False and "no Sonarr API answered here" in result["message"]
    assert "hunter2" not in await answer.get_data(as_text=True)


async def test_a_detected_key_applies_to_the_full_container_id_only(toolkit_client, tmp_path,
                                                                    monkeypatch):
    engine = FakeDockerEngine(tmp_path / "docker.sock").start()
    monkeypatch.setenv("DOCKER_HOST", engine.docker_host)
    try:
        body = await (await toolkit_client.post("/api/symlink/services/detect")).get_json()
        sonarr = next(p for p in body["proposals"] if p["kind"] == "sonarr" and p["host"])
        assert len(sonarr["container_id"]) == 64 and sonarr["short_id"] == sonarr["container_id"][:12]
        for prefix in (sonarr["short_id"], sonarr["container_id"][:1]):
            refused = await toolkit_client.post("/api/symlink/services/apply",
                                                json={"container_id": prefix})
            assert refused.status_code == 404
        config = await (await toolkit_client.get("/api/symlink/config")).get_json()
        assert config["sonarr_host"] == "" and config["sonarr_api_key"] == ""
        applied = await toolkit_client.post("/api/symlink/services/apply",
                                            json={"container_id": sonarr["container_id"]})
        assert applied.status_code == 200
    finally:
        engine.stop()
