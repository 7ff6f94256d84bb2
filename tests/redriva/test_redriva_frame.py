"""Mounted, the toolkit's pages are rendered inside Redriva's own base template — whatever its
header looks like: the seed era's ``<div class="nav">`` and today's ``nav-container`` /
``nav-links`` (``src/templates`` and ``src/templates_today``, small templates of our own with
those structures). A Redriva template that cannot be used leaves the toolkit's copy of the
seed-era header, and a log line says why."""
from __future__ import annotations

import logging
import re
import sys
import threading

import httpx
import pytest
from jinja2 import DictLoader

from toolkit.testing import AUTH_HEADERS, ServedApp, make_app
from toolkit.web.redriva import mount_redriva

from .conftest import create_redriva

LINK = re.compile(r'<a href="([^"]*)"[^>]*>([^<]*)</a>')


def between(html: str, start: str, end: str) -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


def assert_toolkit_page_inside(html: str) -> str:
    """One document: Redriva's, with the toolkit's page, styles and scripts in its content."""
    assert html.count("<html") == 1 and html.count("</body>") == 1
    assert '<header class="tk-header">' not in html  # not the toolkit's copy of a header
    content = html.split('<div class="tk-page tk-redriva"', 1)[1]
    assert 'id="symlink-app"' in content
    for asset in ("/toolkit/static/toolkit.css", "/symlink/static/symlink.css",
                  "/toolkit/static/vendor/htmx-"):
        assert asset in html
    return content


def test_todays_redriva_menu_and_scripts_around_the_toolkits_page(mounted_today):
    html = httpx.get(mounted_today + "/symlink", headers=AUTH_HEADERS).text
    assert_toolkit_page_inside(html)
    # a full page with a query string (a tab's own URL) too
    assert_toolkit_page_inside(httpx.get(mounted_today + "/symlink?tab=settings&x=%C3%A9",
                                     headers=AUTH_HEADERS).text)
    assert re.search(r"<title>[^<]*Redriva Toolkit</title>", html)  # the toolkit's title
    menu = between(html, '<div class="nav-links" id="navLinks">', "</div>")
    assert LINK.findall(menu) == [("/", "📁 Torrents"), ("/symlink", "🔗 Symlink"),
                                  ("/arr-monitor", "🔧 Surveillance Arr"),
                                  ("/settings", "⚙️ Settings"), ("/api-test", "🧪 API Test")]
    assert '<a href="/" class="nav-brand">' in html
    # Redriva rendered it for the toolkit's URL: its style marks its own /symlink link
    assert '.nav-links a[href="/symlink"]' in html
    assert "toggleMenu()" in html and html.index("App.init()") > html.index('id="symlink-app"')


def test_seed_era_redriva_header_and_menu_include_around_the_toolkits_page(mounted):
    html = httpx.get(mounted + "/symlink", headers=AUTH_HEADERS).text
    assert_toolkit_page_inside(html)
    nav = between(html, '<div class="nav">', "</div>")
    assert "<h1>🚀 Redriva Web</h1>" in nav
    assert LINK.findall(nav) == [("/", "🏠 Dashboard"), ("/torrents", "📁 Torrents"),
                                 ("/symlink", "🔗 Symlink"), ("/queue", "🧹 Queue"),
                                 ("/report", "📊 Report")]
    # Redriva's url_for: its own static files, not the toolkit's
    assert '<link rel="stylesheet" href="/static/redriva.css">' in html


def test_redrivas_session_reaches_its_layout(mounted):
    """Redriva renders its layout with the visitor's cookies: a flash message Redriva left
    in its session shows on the toolkit's page, as on Redriva's own pages."""
    with httpx.Client(base_url=mounted, headers=AUTH_HEADERS) as client:
        client.post("/torrents", data={"name": "Flashed.mkv"})
        html = client.get("/symlink").text
    assert '<div class="flash success">✅ Flashed.mkv ajouté</div>' in html


BROKEN_TEMPLATES = {
    "missing": ({}, "its base.html cannot be read: TemplateNotFound"),
    "no content block": ({"base.html": "<html><body><h1>Redriva</h1></body></html>"},
                         "its base.html has no {% block content %}"),
    "needs a view's variable": (
        {"base.html": "<p>{{ user.name }}</p>{% block content %}{% endblock %}"},
        "rendering its base.html failed: UndefinedError"),
}


@pytest.mark.parametrize("templates", BROKEN_TEMPLATES.values(), ids=BROKEN_TEMPLATES.keys())
def test_a_redriva_template_that_cannot_be_used_leaves_the_copied_header(
        toolkit_config, redriva_db, caplog, templates):
    files, reason = templates
    redriva = create_redriva(redriva_db)
    redriva.jinja_loader = DictLoader(files)
    with caplog.at_level(logging.WARNING, logger="toolkit.web.redriva"):
        served = ServedApp(mount_redriva(make_app(toolkit_config), redriva)).start()
    try:
        html = httpx.get(served.url + "/symlink", headers=AUTH_HEADERS).text
    finally:
        served.stop()
    assert "the toolkit's pages keep their own copy of Redriva's header: " + reason in caplog.text
    assert '<a class="tk-brand" href="/" title="Back to Redriva">🚀 Redriva Web</a>' in html
    assert 'id="symlink-app"' in html


def test_a_redriva_layout_failing_for_one_page_leaves_that_page_the_copied_header(
        toolkit_config, redriva_db, caplog):
    """Redriva's code runs at each page (its context processors): a ``sys.exit`` there costs
    that page Redriva's layout, nothing more."""
    redriva = create_redriva(redriva_db)
    state = {"fail": False}

    @redriva.context_processor
    def token_check():
        if state["fail"]:
            sys.exit(1)
        return {}

    served = ServedApp(mount_redriva(make_app(toolkit_config), redriva)).start()
    try:
        state["fail"] = True
        with caplog.at_level(logging.ERROR, logger="toolkit.web.redriva"):
            failed = httpx.get(served.url + "/symlink", headers=AUTH_HEADERS)
        state["fail"] = False
        again = httpx.get(served.url + "/symlink", headers=AUTH_HEADERS)
    finally:
        served.stop()
    assert failed.status_code == 200 and '<header class="tk-header">' in failed.text
    assert "rendering Redriva's layout for /symlink failed (SystemExit: 1)" in caplog.text
    assert '<div class="nav">' in again.text and '<header class="tk-header">' not in again.text


def test_template_none_keeps_the_copied_header(toolkit_config, redriva):
    served = ServedApp(mount_redriva(make_app(toolkit_config), redriva, template=None)).start()
    try:
        html = httpx.get(served.url + "/symlink", headers=AUTH_HEADERS).text
    finally:
        served.stop()
    assert '<header class="tk-header">' in html and '<div class="nav">' not in html


def test_a_redriva_layout_that_hangs_leaves_the_page_the_copied_header(
        toolkit_config, redriva_db, caplog, monkeypatch):
    """Redriva's code stuck (a context processor waiting on its database): at startup, the
    toolkit's pages keep the copied header; later, the page waiting for it gets it."""
    monkeypatch.setattr("toolkit.web.redriva.LAYOUT_TIMEOUT", 0.5)
    redriva = create_redriva(redriva_db)
    release = threading.Event()

    @redriva.context_processor
    def stuck_lookup():
        release.wait(30)
        return {}

    def serve_and_get():
        served = ServedApp(mount_redriva(make_app(toolkit_config), redriva)).start()
        try:
            release.clear()
            return httpx.get(served.url + "/symlink", headers=AUTH_HEADERS, timeout=20)
        finally:
            release.set()
            served.stop()

    try:
        with caplog.at_level(logging.WARNING, logger="toolkit.web.redriva"):
            at_startup = serve_and_get()
        assert "keep their own copy of Redriva's header: rendering its base.html took more " \
               "than 0.5 s" in caplog.text
        assert '<header class="tk-header">' in at_startup.text

        caplog.clear()
        release.set()  # the startup goes through this time
        with caplog.at_level(logging.WARNING, logger="toolkit.web.redriva"):
            later = serve_and_get()
        assert "keep their own copy" not in caplog.text
        assert "Redriva's layout took more than 0.5 s for /symlink" in caplog.text
        assert later.status_code == 200 and '<header class="tk-header">' in later.text
    finally:
        release.set()
