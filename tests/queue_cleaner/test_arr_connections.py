"""One place for the Sonarr/Radarr/Lidarr connections: the host's ``sonarr``/``radarr``/
``lidarr`` settings, shared by every plugin. The symlink Settings tab and its seed API edit
them, the queue cleaner uses them, containers give them by environment, and an existing
database keeps the ones its symlink settings held."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from fakes.arr_server import FakeArr
from fakes.checked import checked_fakes
from toolkit.api import MASK, arr_connections
from toolkit.testing import toolkit_of_app

from .conftest import failed_pack


@pytest.fixture
def fakes():
    """Fake *arr servers checked against the official documents, configured nowhere."""
    yield from checked_fakes(lambda kind: FakeArr(kind).start(), "the official API documents")


def failed_movie(radarr: FakeArr, title: str = "Film.2020.1080p.WEB-GRP") -> dict:
    movie, _file = radarr.add_movie(title.split(".")[0], f"/movies/{title.split('.')[0]} (2020)")
    radarr.add_queue_item(title, movie=movie, status="failed", tracked_status="error",
                          tracked_state="failed")
    return movie


def test_a_container_gives_the_connections_by_environment(fakes, tmp_path):
    """``redriva-toolkit queue check`` in a process of its own, configured only by the
    documented variables: it reads both queues and plans from them."""
    sonarr, radarr = fakes("sonarr"), fakes("radarr")
    _series, episodes, _records = failed_pack(sonarr)
    movie = failed_movie(radarr)
    report = tmp_path / "report.json"
    env = {**os.environ, "TOOLKIT_DATA_DIR": str(tmp_path / "data"), "TOOLKIT_QUEUE__STRIKES": "1",
           "TOOLKIT_SONARR__URL": f"http://127.0.0.1:{sonarr.port}", "TOOLKIT_SONARR__API_KEY": sonarr.api_key,
           "TOOLKIT_RADARR__URL": f"http://127.0.0.1:{radarr.port}/", "TOOLKIT_RADARR__API_KEY": radarr.api_key}
    env.pop("TOOLKIT_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "toolkit", "queue", "check", "--json", str(report)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    plan = {entry["app"]: entry for entry in json.loads(report.read_text())["plan"]}
    assert plan["sonarr"]["episode_ids"] == [e["id"] for e in episodes]
    assert plan["radarr"]["movie_id"] == movie["id"]
    assert sonarr.api_key not in done.stdout + done.stderr


async def test_the_environment_wins_and_the_pages_say_so(fakes, toolkit_app_factory, monkeypatch):
    lidarr = fakes("lidarr")
    monkeypatch.setenv("TOOLKIT_LIDARR__URL", f"http://127.0.0.1:{lidarr.port}")
    monkeypatch.setenv("TOOLKIT_LIDARR__API_KEY", lidarr.api_key)
    monkeypatch.setenv("TOOLKIT_SONARR__URL", "https://sonarr.example.org/sonarr")
    async with toolkit_app_factory() as app:
        client = app.test_client()
        tk = toolkit_of_app(app)
        await client.post("/api/symlink/config", json={"sonarr_host": "stored.lan", "sonarr_api_key": "abc123"})
        config = await (await client.get("/api/symlink/config")).get_json()
        assert (config["sonarr_host"], config["sonarr_port"], config["sonarr_api_key"]) == (
            "sonarr.example.org", 443, MASK)
        assert config["env_variables"] == {"sonarr_host": "TOOLKIT_SONARR__URL",
                                           "sonarr_port": "TOOLKIT_SONARR__URL"}
        page = await (await client.get("/symlink?tab=settings")).get_data(as_text=True)
        assert "(set by TOOLKIT_SONARR__URL)" in page
        host = await (await client.get("/api/toolkit/settings/lidarr")).get_json()
        assert host["values"]["api_key"] == MASK and lidarr.api_key not in json.dumps(host)
        assert host["overridden_by_env"] == ["api_key", "url"]
        used = {c.kind.value: c for c in await arr_connections(tk)}
        # what was saved is kept (for when the variable goes), the environment wins when read
        assert used["sonarr"].api_url == "https://sonarr.example.org:443/sonarr/api/v3"
        assert used["lidarr"].api_url == f"http://127.0.0.1:{lidarr.port}/api/v1"
        assert "radarr" not in used


async def test_keys_are_masked_everywhere_and_dropped_when_the_server_moves(toolkit_client):
    key = "0123456789abcdef0123456789abcdef"
    saved = await toolkit_client.post("/api/toolkit/settings/radarr", json={
        "url": "http://radarr:7878", "api_key": key})
    assert (await saved.get_json())["values"]["api_key"] == MASK
    config = await (await toolkit_client.get("/api/symlink/config")).get_json()
    assert (config["radarr_host"], config["radarr_port"], config["radarr_api_key"]) == ("radarr", 7878, MASK)
    # the mask sent back keeps the key; the symlink API and the host's are one setting
    await toolkit_client.post("/api/symlink/config", json={"radarr_api_key": MASK, "radarr_port": 7878})
    kept = await (await toolkit_client.get("/api/toolkit/settings/radarr")).get_json()
    assert kept["values"]["api_key"] == MASK
    # a new port from the symlink page moves the server: the key stays behind
    await toolkit_client.post("/api/symlink/config", json={"radarr_port": 7879, "radarr_api_key": MASK})
    moved = await (await toolkit_client.get("/api/toolkit/settings/radarr")).get_json()
    assert moved["values"] == {"enabled": True, "url": "http://radarr:7879", "api_key": ""}
    refused = await toolkit_client.post("/api/symlink/config", json={"radarr_api_key": "has space"})
    assert refused.status_code == 422
    assert set((await refused.get_json())["error"]["fields"]) == {"radarr_api_key"}
    # a host no URL can hold is the host field's error, and nothing is saved
    refused = await toolkit_client.post("/api/symlink/config", json={"radarr_host": "radarr lan",
                                                                      "max_workers": 2})
    assert (await refused.get_json())["error"]["fields"] == {
        "radarr_host": "'radarr lan' is not a valid host name or IP address"}
    config = await (await toolkit_client.get("/api/symlink/config")).get_json()
    assert (config["radarr_host"], config["max_workers"]) == ("radarr", 12)


async def test_an_existing_database_keeps_its_connections(toolkit_config, toolkit_app_factory):
    """A database from before: its symlink_config row holds the connections; the upgrade
    moves them into the host's settings and leaves no copy of a key behind."""
    from alembic import command

    from toolkit.core import migrate
    from toolkit.core.plugins import build_plugin_host

    key = "0123456789abcdef0123456789abcdef"
    models = build_plugin_host(toolkit_config).collect().models
    cfg = migrate.alembic_config(toolkit_config.database_url, models)
    command.upgrade(cfg, "toolkit@head")
    command.upgrade(cfg, "symlink_0007")
    path = toolkit_config.data_dir / "toolkit.db"
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO symlink_config (id, media_path, max_workers, sonarr_enabled, sonarr_host, "
                   "sonarr_port, sonarr_api_key, radarr_enabled, radarr_host, radarr_port, radarr_api_key) "
                   "VALUES (1, '/srv/media', 3, 1, 'sonarr.lan', 8990, ?, 0, '10.0.0.7', 7878, 'k2')", (key,))
    async with toolkit_app_factory() as app:
        client = app.test_client()
        config = await (await client.get("/api/symlink/config")).get_json()
        assert (config["media_path"], config["max_workers"]) == ("/srv/media", 3)
        assert (config["sonarr_enabled"], config["sonarr_host"], config["sonarr_port"]) == (True, "sonarr.lan", 8990)
        assert (config["radarr_enabled"], config["radarr_host"], config["sonarr_api_key"]) == (False, "10.0.0.7", MASK)
        [sonarr] = await arr_connections(toolkit_of_app(app))  # Radarr was disabled
        assert sonarr.api_url == "http://sonarr.lan:8990/api/v3"
        assert sonarr.api_key.get_secret_value() == key
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(symlink_config)")]
        stored = dict(db.execute("SELECT namespace, \"values\" FROM toolkit_settings "
                                 "WHERE namespace IN ('sonarr', 'radarr')").fetchall())
    assert not [c for c in columns if c.startswith(("sonarr_", "radarr_"))]
    assert json.loads(stored["radarr"]) == {"enabled": False, "url": "http://10.0.0.7:7878", "api_key": "k2"}

    command.downgrade(cfg, "symlink_0007")  # and back, for a user who returns to a version before
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT sonarr_enabled, sonarr_host, sonarr_port, sonarr_api_key, radarr_host "
                         "FROM symlink_config").fetchone()
    assert row == (1, "sonarr.lan", 8990, key, "10.0.0.7")


@pytest.mark.browser
def test_the_symlink_settings_tab_edits_what_the_queue_cleaner_uses(fakes, toolkit_server, browser_page):
    from playwright.sync_api import expect
    sonarr = fakes("sonarr")
    failed_pack(sonarr)
    page = browser_page
    page.goto(f"{toolkit_server}/symlink?tab=settings")
    section = page.locator("section", has=page.get_by_role("heading", name="Sonarr"))
    for name, value in (("sonarr_host", "127.0.0.1"), ("sonarr_port", str(sonarr.port)),
                        ("sonarr_api_key", sonarr.api_key)):
        field = section.locator(f'input[name="{name}"]')
        field.fill(value)
        with page.expect_response("**/symlink/settings"):
            field.dispatch_event("change")
    expect(page.locator("#sl-save-state")).to_have_text("Saved ✓")
    page.locator("#sl-test-sonarr").click()
    expect(page.locator("#sl-test-result-sonarr")).to_contain_text("✓")

    page.goto(f"{toolkit_server}/queue")
    with page.expect_response("**/queue/check"):
        page.get_by_role("button", name="Check now").click()
    expect(page.get_by_text("Checked: 1 download(s) in the queues, 0 in the plan.")).to_be_visible()
    page.get_by_role("tab", name="Queue").click()
    expect(page.get_by_role("row", name="Show.S01.1080p.WEB-GRP")).to_contain_text("failed")

    # the key the page saved is shown masked, never in clear
    page.goto(f"{toolkit_server}/symlink?tab=settings")
    expect(section.locator('input[name="sonarr_api_key"]')).to_have_value(MASK)
    assert sonarr.api_key not in page.content()
