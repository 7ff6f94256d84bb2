"""The language setting (``interface.language``, the Account page's picker) and what follows
it: pages, JSON errors of the API, notifications, and the command line's language."""
from __future__ import annotations

import subprocess
import sys

import pytest

from toolkit.core import i18n
from toolkit.testing import make_config, toolkit_of_app

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


async def _text(response) -> str:
    return await response.get_data(as_text=True)


async def test_the_picker_saves_the_language_and_it_wins_over_the_browser(toolkit_client):
    account = await _text(await toolkit_client.get("/toolkit/account", headers={"Accept-Language": "en"}))
    assert "Language of the pages, messages and notifications" in account
    assert '<option value="auto" selected>' in account

    saved = await toolkit_client.post("/toolkit/language", form={"language": "fr", "next": "/toolkit/account"})
    assert saved.status_code == 303 and saved.headers["Location"] == "/toolkit/account"
    page = await _text(await toolkit_client.get("/toolkit/account", headers={"Accept-Language": "en"}))
    assert '<html lang="fr">' in page and "Langue des pages, des messages et des notifications" in page
    assert '<option value="fr" selected>' in page
    setting = await (await toolkit_client.get("/api/toolkit/settings/interface")).get_json()
    assert setting["values"] == {"language": "fr"}

    # back to automatic, through the settings API this time: the browser decides again
    await toolkit_client.post("/api/toolkit/settings/interface", json={"language": "auto"})
    english = await _text(await toolkit_client.get("/symlink", headers={"Accept-Language": "en"}))
    assert '<html lang="en">' in english and "New scan" in english

    refused = await toolkit_client.post("/toolkit/language", form={"language": "de"})
    assert refused.status_code == 422 and "Unknown language" in await _text(refused)
    outside = await toolkit_client.post("/toolkit/language", form={"language": "en", "next": "//evil.example/"})
    assert outside.headers["Location"] == "/toolkit/account"


async def test_the_environment_variable_locks_the_picker(toolkit_app_factory, tmp_path):
    async with toolkit_app_factory(config=make_config(tmp_path, language="en")) as app:
        client = app.test_client()
        page = await _text(await client.get("/toolkit/account", headers=FRENCH))
        assert '<html lang="en">' in page and "Set by the environment, not here: TOOLKIT_LANGUAGE." in page
        assert (await client.post("/toolkit/language", form={"language": "fr"})).status_code == 409


async def test_api_errors_speak_the_request_language(toolkit_client):
    async def error(method: str, path: str, **kwargs) -> dict:
        response = await getattr(toolkit_client, method)(path, headers=FRENCH, **kwargs)
        return (await response.get_json())["error"]

    assert (await error("get", "/api/toolkit/settings/nope"))["message"] == "aucun espace de paramètres 'nope'"
    assert (await error("get", "/api/toolkit/no/such/route"))["message"] == "non trouvée"
    not_json = await error("post", "/api/toolkit/settings/notifications", data="[1]")
    assert not_json["message"] == "le corps doit être un objet JSON"
    schedule = await error("post", "/api/toolkit/schedules", json={"name": "x", "task": "nope", "cron": "61 * * * *"})
    assert schedule["message"] == "planification invalide"
    assert schedule["fields"]["task"] == "tâche inconnue 'nope'"
    assert schedule["fields"]["cron"].startswith("pas une expression cron valide de cinq champs")
    access = await error("post", "/api/toolkit/settings/auth", json={"mode": "external"})
    assert access["message"] == "paramètres invalides"
    assert access["fields"]["__root__"] == "le mode external a besoin de l’adresse du proxy inverse"
    unknown = await error("post", "/api/toolkit/settings/interface", json={"language": "de", "colour": "red"})
    assert unknown["fields"] == {"colour": "paramètre inconnu"}
    choice = await error("post", "/api/toolkit/settings/interface", json={"language": "de"})
    assert choice["fields"] == {"language": "doit valoir l’une de ces valeurs : 'auto', 'en', 'fr'"}
    missing = await error("post", "/api/toolkit/schedules", json={"task": "nope"})
    assert missing["fields"]["body.name"] == "requis" and missing["fields"]["body.cron"] == "requis"
    # codes and field names are for programs: never translated
    assert access["code"] == "invalid" and schedule["code"] == "invalid"
    # the plugins' errors too
    assert (await error("get", "/api/symlink/scans/nope"))["message"] == \
        "aucune analyse 'nope' (seules les 3 dernières analyses sont gardées)"
    assert (await error("post", "/api/queue/journal/12345/undo"))["message"] == "aucune entrée de journal 12345"
    english = await toolkit_client.get("/api/toolkit/settings/nope", headers={"Accept-Language": "en"})
    assert (await english.get_json())["error"]["message"] == "no settings namespace 'nope'"


async def test_notifications_follow_the_setting(toolkit_client, toolkit_app, inbox):
    tk = toolkit_of_app(toolkit_app)
    await tk.settings.update("interface", {"language": "fr"})
    await tk.settings.update("notifications", {"urls": inbox.url, "on_problems": False})
    off = await tk.notifier.send("problems", "t", "b")  # outside a request: the setting's language
    assert off.skipped == "les notifications pour 'problems' sont désactivées"
    response = await toolkit_client.post("/api/toolkit/notifications/test", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    (message,) = inbox.messages
    assert message["title"] == "Redriva Toolkit : test"
    assert message["message"].startswith("Les notifications fonctionnent.")


@pytest.mark.parametrize("environment, language", [
    ({"LANG": "fr_FR.UTF-8"}, "fr"),
    ({"LC_ALL": "fr_CA.UTF-8", "LANG": "en_US.UTF-8"}, "fr"),
    ({"LANGUAGE": "fr:en", "LANG": "C.UTF-8"}, "fr"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({"LANG": "fr_FR.UTF-8", "TOOLKIT_LANGUAGE": "en"}, "en"),
    ({}, "en"),
])
def test_the_command_line_language_comes_from_the_environment(monkeypatch, tmp_path, environment, language):
    for name in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "TOOLKIT_LANGUAGE", "TOOLKIT_INTERFACE__LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path))  # no database: no saved setting
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    i18n.command_line_language.cache_clear()
    try:
        assert i18n.command_line_language() == language
    finally:
        i18n.command_line_language.cache_clear()


async def test_the_command_line_reads_the_saved_setting(toolkit_app_factory, tmp_path):
    async with toolkit_app_factory(config=make_config(tmp_path)) as app:
        await toolkit_of_app(app).settings.update("interface", {"language": "fr"})
    environment = {"TOOLKIT_DATA_DIR": str(tmp_path), "LANG": "en_US.UTF-8", "PATH": "/usr/bin:/bin"}
    # a fresh process, as a command starts: the lookup must not import the web stack
    code = ("import sys; from toolkit.core.i18n import gettext, command_line_language; "
            "print(command_line_language(), gettext('Language'), 'quart' in sys.modules, 'sqlalchemy' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == ["fr", "Langue", "False", "False"], run.stderr
