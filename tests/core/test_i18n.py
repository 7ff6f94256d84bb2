"""English and French: every marked string of the toolkit (templates and Python) has a French
translation, and the language follows the setting, Redriva, then the browser."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from toolkit.testing import make_config

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "toolkit" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
METHODS = [("toolkit/**/templates/**.html", "jinja2"), ("toolkit/**.py", "python")]
OPTIONS = {"toolkit/**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def marked_strings() -> dict:
    found = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), METHODS, OPTIONS, KEYWORDS):
        found.setdefault(message, filename)
    return found


def test_every_marked_string_has_a_french_translation():
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    marked = marked_strings()
    assert len(marked) > 250  # the extraction itself works (templates and Python)
    problems = []
    for message, filename in sorted(marked.items(), key=str):
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        strings = (entry.string if isinstance(entry.string, tuple) else (entry.string,)) if entry else ()
        if entry is None or entry.fuzzy or not all(strings):
            problems.append(f"{filename}: {message!r} has no French translation")
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(message) if isinstance(message, tuple) else message))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) - {"%(num)d"} != wanted - {"%(num)d"}:
                problems.append(f"{filename}: {message!r} -> {text!r}: not the same placeholders")
    assert not problems, "run scripts/translations, then translate:\n" + "\n".join(problems)


async def _page(app, path: str, **headers) -> str:
    response = await app.test_client().get(path, headers=headers)
    return await response.get_data(as_text=True)


async def test_the_browser_language_then_the_setting_decide(toolkit_app_factory, tmp_path):
    async with toolkit_app_factory() as app:
        french = await _page(app, "/symlink?tab=settings", **{"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
        assert '<html lang="fr">' in french and "Paramètres" in french and "Tester la connexion" in french
        english = await _page(app, "/symlink?tab=settings", **{"Accept-Language": "de, en;q=0.5"})
        assert '<html lang="en">' in english and "Test connection" in english and "Paramètres" not in english
        missing = await _page(app, "/no/such/page", **{"Accept-Language": "fr"})
        assert "Page introuvable" in missing and "Il n’y a pas de page à l’adresse /no/such/page." in missing
        from quart import render_template

        async with app.test_request_context("/login", headers={"Accept-Language": "fr"}):
            login = await render_template("toolkit/auth/login.html", next="/", error="Wrong user name or password.")
        assert '<html lang="fr">' in login and "Se connecter" in login and "Mot de passe" in login
        assert "Nom d’utilisateur ou mot de passe incorrect." in login
    config = make_config(tmp_path / "en", language="en")
    async with toolkit_app_factory(config=config) as app:
        forced = await _page(app, "/symlink", **{"Accept-Language": "fr"})
        assert '<html lang="en">' in forced and "New scan" in forced


async def test_inside_redriva_the_pages_are_french(toolkit_app_factory):
    async with toolkit_app_factory() as app:
        app.config["REDRIVA_MOUNTED"] = True  # what init_redriva sets
        html = await _page(app, "/symlink", **{"Accept-Language": "en"})
        assert "Nouvelle analyse" in html and "Tableau de bord" in html


@pytest.mark.parametrize("language, text", [("fr", "Redriva Toolkit : test"), ("en", "Redriva Toolkit: test")])
async def test_messages_outside_a_request_use_the_setting(toolkit_app_factory, tmp_path, language, text):
    from toolkit.web.i18n import gettext

    async with toolkit_app_factory(config=make_config(tmp_path / language, language=language)) as app:
        async with app.app_context():
            assert gettext("Redriva Toolkit: test") == text
