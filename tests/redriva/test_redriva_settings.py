"""Today's Redriva keeps symlink settings (Settings › Symlinks: ``symlink`` in
``config/config.json``) and Sonarr/Radarr connections of its own: mounted, the toolkit starts
from them on its first start and says so; afterwards its own settings are the ones used."""
from __future__ import annotations

import asyncio
import json
import logging

from toolkit.testing import make_app, toolkit_of_app
from toolkit.web.redriva import mount_redriva, settings_from_redriva

SONARR_KEY, RADARR_KEY = "a" * 32, "b" * 32


def redriva_config(media: str, **symlink) -> dict:
    """Shaped like today's Redriva config.json once its Settings › Symlinks tab was saved."""
    return {
        "version": "2.0", "setup_completed": True,
        "realdebrid": {"token": "rd-secret", "api_limit": 100},
        "sonarr": {"url": "http://sonarr:8989", "api_key": SONARR_KEY, "enabled": True},
        "radarr": {"url": "http://radarr:7878", "api_key": RADARR_KEY, "enabled": False},
        "symlink": {"media_path": media, "workers": 8, "radarr_url": "http://10.0.0.5:7879",
                    "radarr_enabled": True, **symlink},
    }


def test_redrivas_symlink_tab_wins_over_its_connections_as_in_redriva():
    values, connections = settings_from_redriva(redriva_config("/home/user/Medias"))
    assert values == {"media_path": "/home/user/Medias", "max_workers": 8}
    assert connections == {
        "sonarr": {"enabled": True, "url": "http://sonarr:8989", "api_key": SONARR_KEY},
        "radarr": {"enabled": True, "url": "http://10.0.0.5:7879", "api_key": RADARR_KEY},
    }


def test_any_address_redriva_holds_is_taken_and_a_wrong_one_left_with_a_note(
        toolkit_config, redriva, tmp_path, caplog):
    """The host's connections hold whole URLs (https, a URL base): only what the toolkit
    refuses is left out, with a note."""
    config = {"sonarr": {"url": "https://example.org/sonarr", "api_key": SONARR_KEY},
              "radarr": {"url": "http://radarr:notaport"}, "symlink": "not a section"}
    assert settings_from_redriva(config)[0] == {}
    assert settings_from_redriva({}) == ({}, {})
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))

    async def run():
        app = make_app(toolkit_config)
        mount_redriva(app, redriva, config_file=config_file)
        async with app.test_app():
            store = toolkit_of_app(app).settings
            return await store.get("sonarr"), await store.get("radarr")

    with caplog.at_level(logging.WARNING, logger="toolkit.web.redriva"):
        sonarr, radarr = asyncio.run(run())
    assert sonarr.connection().api_url == "https://example.org:443/sonarr/api/v3"
    assert radarr.url == ""
    assert "not taken from Redriva's" in caplog.text and "radarr.url" in caplog.text


async def start(toolkit_config, redriva, config_file):
    app = make_app(toolkit_config)
    mount_redriva(app, redriva, config_file=config_file)
    async with app.test_app():
        from toolkit.plugins.symlink.service import arr_fields

        return await arr_fields.load(toolkit_of_app(app))


async def test_first_start_takes_redrivas_settings_and_says_so(toolkit_config, redriva,
                                                              tmp_path, caplog):
    config_file = tmp_path / "config" / "config.json"
    config_file.parent.mkdir()
    config_file.write_text(json.dumps(redriva_config(str(tmp_path / "Medias"))))
    with caplog.at_level(logging.INFO, logger="toolkit.web.redriva"):
        first = await start(toolkit_config, redriva, config_file)
    assert (first.media_path, first.max_workers) == (str(tmp_path / "Medias"), 8)
    assert (first.sonarr_enabled, first.sonarr_host, first.sonarr_port) == (True, "sonarr", 8989)
    assert first.sonarr_api_key.get_secret_value() == SONARR_KEY
    assert (first.radarr_enabled, first.radarr_host, first.radarr_port) == (True, "10.0.0.5", 7879)
    assert first.radarr_api_key.get_secret_value() == RADARR_KEY
    assert f"first start inside Redriva: the symlink settings start from Redriva's {config_file}" \
        in caplog.text
    assert "API keys" in caplog.text and SONARR_KEY not in caplog.text

    # later changes in Redriva are not read again: the toolkit's own settings are used
    config_file.write_text(json.dumps(redriva_config("/elsewhere", workers=2)))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="toolkit.web.redriva"):
        again = await start(toolkit_config, redriva, config_file)
    assert (again.media_path, again.max_workers) == (str(tmp_path / "Medias"), 8)
    assert "first start" not in caplog.text


async def test_a_value_the_toolkit_refuses_is_left_out(toolkit_config, redriva, tmp_path, caplog):
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(redriva_config("relative/path", workers=500)))
    with caplog.at_level(logging.WARNING, logger="toolkit.web.redriva"):
        settings = await start(toolkit_config, redriva, config_file)
    assert settings.sonarr_host == "sonarr"  # the others are taken
    assert settings.media_path == "/app/medias" and settings.max_workers == 12  # defaults
    assert "not taken from Redriva's" in caplog.text and "max_workers" in caplog.text
    assert "media_path" in caplog.text


async def test_no_config_file_no_change(toolkit_config, redriva, tmp_path):
    settings = await start(toolkit_config, redriva, tmp_path / "missing.json")
    assert settings.media_path == "/app/medias" and not settings.sonarr_host
