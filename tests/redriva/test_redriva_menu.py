"""Menu integration: with the documented change (``init_redriva(app)`` + one include),
Redriva's menu lists every plugin's links; without it Redriva is unchanged and the toolkit
still works at its own URLs. Mounted, the toolkit's pages wear Redriva's header."""
from __future__ import annotations

import logging
import re

import httpx
import pytest

from toolkit import hookimpl
from toolkit.core.hookspecs import Task
from toolkit.core.plugins import build_plugin_host
from toolkit.testing import AUTH_HEADERS, ServedApp, make_app
from toolkit.web.redriva import HeaderLink, init_redriva, mount_redriva

from .conftest import PLUGINS, create_redriva, serve_mounted

TOOLKIT_LINK = re.compile(r'<a href="([^"]*)" data-toolkit-link>([^<]*)</a>')


def nav(html: str) -> str:
    """Redriva's hand-written menu: the ``<div class="nav">`` block."""
    return html.split('<div class="nav">', 1)[1].split("</div>", 1)[0]


def toolkit_links(html: str) -> list[tuple[str, str]]:
    return TOOLKIT_LINK.findall(nav(html))


def test_redriva_menu_lists_every_plugins_links_after_its_own(mounted):
    html = httpx.get(mounted + "/torrents").text
    assert toolkit_links(html) == [("/symlink", "🔗 Symlink"), ("/queue", "🧹 Queue"), ("/report", "📊 Report")]
    menu = nav(html)
    assert menu.index("📁 Torrents") < menu.index("🔗 Symlink")


def test_without_the_change_redriva_is_unchanged_and_the_toolkit_still_works(
        toolkit_config, plain_redriva):
    served = serve_mounted(toolkit_config, plain_redriva)
    try:
        dashboard = httpx.get(served.url + "/")
        assert dashboard.status_code == 200 and toolkit_links(dashboard.text) == []
        page = httpx.get(served.url + "/symlink", headers=AUTH_HEADERS)
        assert page.status_code == 200 and "Symlink manager" in page.text
        assert 'href="/">🏠 Dashboard</a>' in page.text  # the way back is there anyway
    finally:
        served.stop()


def test_menu_read_from_the_plugin_host_without_starting_it(toolkit_config, redriva_db):
    """Redriva under gunicorn, the toolkit served elsewhere: absolute links, no database."""
    host = build_plugin_host(toolkit_config, extra=PLUGINS)
    app = create_redriva(redriva_db)
    init_redriva(app, host=host, base_url="http://nas.local:5050/")
    html = app.test_client().get("/").get_data(as_text=True)
    assert toolkit_links(html) == [("http://nas.local:5050/symlink", "🔗 Symlink"),
                                   ("http://nas.local:5050/queue", "🧹 Queue"),
                                   ("http://nas.local:5050/report", "📊 Report")]
    assert not (toolkit_config.data_dir / "toolkit.db").exists()


def test_menu_from_the_environment(monkeypatch, tmp_path, redriva_db):
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path / "toolkit-data"))
    monkeypatch.setenv("REDRIVA_TOOLKIT_URL", "https://toolkit.example")
    app = create_redriva(redriva_db)
    init_redriva(app)
    html = app.test_client().get("/torrents").get_data(as_text=True)
    assert ("https://toolkit.example/symlink", "🔗 Symlink") in toolkit_links(html)
    assert not (tmp_path / "toolkit-data" / "toolkit.db").exists()


def _clashing_task_plugin(name: str):
    class Plugin:
        @hookimpl
        def toolkit_register_tasks(self):
            return Task(name="clash:task", func=lambda ctx: None)

    return (name, Plugin())


def test_a_broken_plugin_set_never_breaks_redriva(toolkit_config, redriva_db, caplog):
    host = build_plugin_host(toolkit_config, extra=[_clashing_task_plugin("a"),
                                                    _clashing_task_plugin("b")])
    app = create_redriva(redriva_db)
    init_redriva(app, host=host)
    with caplog.at_level(logging.ERROR, logger="toolkit.web.redriva"):
        response = app.test_client().get("/")
    assert response.status_code == 200 and toolkit_links(response.get_data(as_text=True)) == []
    assert "cannot read the toolkit's menu links" in caplog.text


def test_the_copied_seed_era_header(toolkit_config, redriva):
    """Without Redriva's own layout (``template=None``, or one that cannot be used: see
    test_redriva_frame), the toolkit's pages wear a copy of the seed-era header."""
    served = ServedApp(mount_redriva(make_app(toolkit_config, PLUGINS), redriva,
                                     template=None)).start()
    try:
        html = httpx.get(served.url + "/symlink", headers=AUTH_HEADERS).text
        css = httpx.get(served.url + "/toolkit/static/toolkit.css", headers=AUTH_HEADERS).text
    finally:
        served.stop()
    assert 'class="tk-body tk-redriva"' in html
    header = html.split('<header class="tk-header">', 1)[1].split("</header>", 1)[0]
    assert '<a class="tk-brand" href="/" title="Back to Redriva">🚀 Redriva Web</a>' in header
    links = re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', header)
    assert links == [("/", "🏠 Dashboard"), ("/torrents", "📁 Torrents"),
                     ("/symlink", "🔗 Symlink"), ("/queue", "🧹 Queue"), ("/report", "📊 Report")]
    assert '<a href="/symlink" aria-current="page">' in header
    assert ".tk-redriva .tk-header" in css and "#2c3e50" in css  # Redriva's header colour


def test_header_shows_only_the_links_redriva_serves(toolkit_config, redriva):
    app = mount_redriva(make_app(toolkit_config), redriva, template=None, brand="Redriva",
                        links=[HeaderLink("📁 Torrents", "/torrents"),
                               HeaderLink("⚙️ Settings", "/settings")])
    served = ServedApp(app).start()
    try:
        header = httpx.get(served.url + "/symlink", headers=AUTH_HEADERS).text.split("</header>", 1)[0]
    finally:
        served.stop()
    assert "📁 Torrents" in header and "Settings" not in header


@pytest.mark.parametrize("mounted_flag", [False, True])
async def test_standalone_layout_and_plain_mounted_flag(toolkit_app_factory, mounted_flag):
    async with toolkit_app_factory() as app:
        app.config["REDRIVA_MOUNTED"] = mounted_flag
        html = await (await app.test_client().get("/symlink")).get_data(as_text=True)
    header = html.split("</header>", 1)[0]
    if mounted_flag:  # flag set by hand, no mount: a plain way back
        assert 'class="tk-body tk-redriva"' in html and '<a href="/">← Redriva</a>' in header
    else:
        assert "tk-redriva" not in html and ">Redriva Toolkit</a>" in header
        assert '<a href="/">Home</a>' in header


def test_mounted_links_stay_on_the_same_site(monkeypatch, toolkit_config, redriva_db):
    """A ``REDRIVA_TOOLKIT_URL`` left over from a two-container setup does not send the
    mounted menu to another host."""
    monkeypatch.setenv("REDRIVA_TOOLKIT_URL", "http://old-toolkit:5050")
    app = create_redriva(redriva_db)
    assert init_redriva(app) is init_redriva(app)  # a second call changes nothing
    served = serve_mounted(toolkit_config, app)
    try:
        links = toolkit_links(httpx.get(served.url + "/").text)
    finally:
        served.stop()
    assert links == [("/symlink", "🔗 Symlink"), ("/queue", "🧹 Queue"), ("/report", "📊 Report")]
