"""Mounted in Redriva, the toolkit speaks Redriva's language: the one its base template
declares (``<html lang="fr">``), unless the language setting or TOOLKIT_LANGUAGE says another;
the browser's Accept-Language comes after both."""
from __future__ import annotations

import jinja2
from flask import Flask

from toolkit.testing import make_app, make_config
from toolkit.web.redriva import mount_redriva


async def _symlink_page(app, accept: str) -> str:
    async with app.test_app():
        response = await app.test_client().get("/symlink", headers={"Accept-Language": accept})
        return await response.get_data(as_text=True)


async def test_redrivas_french_base_template_makes_the_pages_french(tmp_path, plain_redriva):
    app = make_app(make_config(tmp_path, language=""))  # not this folder's TOOLKIT_LANGUAGE=en
    mount_redriva(app, plain_redriva, template=None)  # Redriva's tests/redriva base.html: lang="fr"
    assert app.config["REDRIVA_LANGUAGE"] == "fr"
    page = await _symlink_page(app, "en-US,en;q=0.9")
    assert '<html lang="fr">' in page and "Tableau de bord" in page


async def test_a_redriva_in_english_gets_english_pages(tmp_path):
    english = Flask("english_redriva")
    english.jinja_loader = jinja2.DictLoader({"base.html": '<!doctype html><html lang="en-GB"><body>'
                                                           "{% block content %}{% endblock %}</body></html>"})
    app = make_app(make_config(tmp_path, language=""))
    mount_redriva(app, english, template=None)
    assert app.config["REDRIVA_LANGUAGE"] == "en"
    page = await _symlink_page(app, "fr-FR,fr;q=0.9")  # Redriva's language comes before the browser's
    assert '<html lang="en">' in page and "Dashboard" in page
