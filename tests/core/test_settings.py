"""Settings: defaults, validation (422 with field messages), secrets, env overrides, tables."""
from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import JSON, Column, DateTime, Integer, String, Table

from toolkit.core.db import new_metadata
from toolkit.core.hookspecs import Models, SettingsSchema
from toolkit.core.settings import MASK
from toolkit.testing import toolkit_of_app

from .plugin_kit import make_plugin


class ArrSettings(BaseModel):
    host: str = "localhost"
    port: int = Field(8989, ge=1, le=65535)
    api_key: SecretStr = SecretStr("")
    folders: list[str] = []


md = new_metadata()
Table("kit_config", md, Column("id", Integer, primary_key=True), Column("host", String(100)),
      Column("port", Integer), Column("api_key", String(100)), Column("folders", JSON),
      Column("created_at", DateTime), Column("updated_at", DateTime))


def json_plugin():
    return ("kit", make_plugin("kit", toolkit_settings_schema=lambda: SettingsSchema(
        "kit", ArrSettings)))


def table_plugin():
    # no migrations folder: the test creates the table itself through the metadata below
    return ("kit", make_plugin(
        "kit",
        toolkit_settings_schema=lambda: SettingsSchema("kit", ArrSettings, table="kit_config"),
        toolkit_register_models=lambda: Models(md)))


@pytest.fixture(params=["json", "table"])
async def app(request, toolkit_app_factory, toolkit_config):
    if request.param == "table":
        from toolkit.core.db import create_engine_sync

        engine = create_engine_sync(toolkit_config.database_url)
        md.create_all(engine)
        engine.dispose()
    plugin = json_plugin() if request.param == "json" else table_plugin()
    async with toolkit_app_factory([plugin], entry_points=False) as app:
        yield app


async def test_defaults_then_saved_values(app):
    client = app.test_client()
    got = await (await client.get("/api/toolkit/settings/kit")).get_json()
    assert got["values"] == {"host": "localhost", "port": 8989, "api_key": "", "folders": []}
    saved = await client.post("/api/toolkit/settings/kit",
                              json={"port": 7878, "folders": ["/tv", "/films"]})
    assert saved.status_code == 200
    settings = await toolkit_of_app(app).settings.get("kit")
    assert (settings.port, settings.folders, settings.host) == (7878, ["/tv", "/films"],
                                                                "localhost")


async def test_invalid_values_answer_422_with_field_messages_and_change_nothing(app):
    client = app.test_client()
    await client.post("/api/toolkit/settings/kit", json={"port": 7878})
    response = await client.post("/api/toolkit/settings/kit",
                                 json={"port": 70000, "host": "ok", "colour": "red"})
    assert response.status_code == 422
    error = (await response.get_json())["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"colour"}
    response = await client.post("/api/toolkit/settings/kit", json={"port": 70000, "host": "x"})
    fields = (await response.get_json())["error"]["fields"]
    assert list(fields) == ["port"] and "65535" in fields["port"]
    settings = await toolkit_of_app(app).settings.get("kit")
    assert (settings.port, settings.host) == (7878, "localhost")


async def test_secrets_are_masked_and_kept_when_the_mask_comes_back(app, caplog):
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    saved = await (await client.post("/api/toolkit/settings/kit",
                                     json={"api_key": "0123456789abcdef0123456789abcdef"})).get_json()
    assert saved["values"]["api_key"] == MASK
    got = await (await client.get("/api/toolkit/settings/kit")).get_data(as_text=True)
    assert "0123456789abcdef" not in got and MASK in got
    await client.post("/api/toolkit/settings/kit", json={"api_key": MASK, "port": 1234})
    settings = await toolkit_of_app(app).settings.get("kit")
    assert settings.api_key.get_secret_value() == "0123456789abcdef0123456789abcdef"
    assert "0123456789abcdef" not in repr(settings) and "0123456789abcdef" not in caplog.text


async def test_environment_overrides_documented_settings(app, monkeypatch):
    monkeypatch.setenv("TOOLKIT_KIT__PORT", "9999")
    client = app.test_client()
    got = await (await client.get("/api/toolkit/settings/kit")).get_json()
    assert got["values"]["port"] == 9999 and got["overridden_by_env"] == ["port"]
    monkeypatch.setenv("TOOLKIT_KIT__PORT", "not a number")  # a bad override is ignored
    got = await (await client.get("/api/toolkit/settings/kit")).get_json()
    assert got["values"]["port"] == 8989


async def test_unknown_namespace_and_bad_body(app):
    client = app.test_client()
    assert (await client.get("/api/toolkit/settings/nope")).status_code == 404
    response = await client.post("/api/toolkit/settings/kit", data="[1]",
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert (await response.get_json())["error"]["message"] == "expected a JSON object body"
