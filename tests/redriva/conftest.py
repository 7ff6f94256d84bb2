"""A Redriva-shaped Flask app (``src/web.py``) mounted with the toolkit and served by a real
hypercorn on 127.0.0.1, plus a small extra plugin ("report") whose routes are not the symlink
plugin's: they prove the routing comes from the toolkit's URL map, not from a fixed list."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from quart import Blueprint

from toolkit import hookimpl
from toolkit.core.hookspecs import MenuLink
from toolkit.testing import ServedApp, make_app
from toolkit.web.redriva import init_redriva, mount_redriva

REDRIVA_DIR = Path(__file__).resolve().parent  # holds src/, like a Redriva checkout


@pytest.fixture(autouse=True)
def redriva_checkout(monkeypatch):
    """Redriva's folder on the import path, as when Redriva runs from its checkout: its app
    is ``src.web:app`` (what ``--redriva`` and ``load_wsgi_app`` are given)."""
    monkeypatch.syspath_prepend(str(REDRIVA_DIR))


def create_redriva(*args, **kwargs):
    """Redriva's ``create_app`` (``src/web.py``), imported from its checkout."""
    from src.web import create_app

    return create_app(*args, **kwargs)

report = Blueprint("report", __name__)


@report.get("/report")
async def report_page():
    return "<h1>Library report</h1>"


@report.get("/api/report/summary")
async def report_summary():
    return {"links": 0}


class ReportPlugin:
    @hookimpl
    def toolkit_register_routes(self, app):
        return report

    @hookimpl
    def toolkit_menu_links(self):
        return MenuLink(label="Report", href="/report", icon="📊", order=20)


PLUGINS = [("report", ReportPlugin())]
SEEDED = [("Show.S01E01.mkv", "downloaded"), ("Film.2020.mkv", "queued")]


def redriva_database(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE torrents (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                     "status TEXT NOT NULL DEFAULT 'queued')")
        conn.executemany("INSERT INTO torrents (name, status) VALUES (?, ?)", SEEDED)
    return path


def torrent_names(database: Path) -> list[str]:
    with sqlite3.connect(database) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM torrents ORDER BY id")]


@pytest.fixture(autouse=True)
def english_pages(monkeypatch):
    """Mounted in Redriva the toolkit speaks French (tests/core/test_i18n.py); these tests
    read the layout around the pages, in English (the setting wins over Redriva's language)."""
    monkeypatch.setenv("TOOLKIT_LANGUAGE", "en")


@pytest.fixture
def redriva_db(tmp_path) -> Path:
    return redriva_database(tmp_path / "redriva" / "data" / "redriva.db")


@pytest.fixture
def plain_redriva(redriva_db):
    """Redriva without the documented change (no ``init_redriva``)."""
    return create_redriva(redriva_db)


@pytest.fixture
def redriva(redriva_db):
    """Redriva with the documented change: ``init_redriva(app)``."""
    app = create_redriva(redriva_db)
    init_redriva(app)
    return app


def serve_mounted(toolkit_config, redriva_app) -> ServedApp:
    return ServedApp(mount_redriva(make_app(toolkit_config, PLUGINS), redriva_app)).start()


@pytest.fixture
def mounted(toolkit_config, redriva):
    """Base URL of the toolkit mounted into Redriva, served by hypercorn."""
    served = serve_mounted(toolkit_config, redriva)
    try:
        yield served.url
    finally:
        served.stop()


@pytest.fixture
def todays_redriva(redriva_db):
    """Today's Redriva header structure, unchanged (its menu links /symlink itself)."""
    return create_redriva(redriva_db, templates="templates_today")


@pytest.fixture
def mounted_today(toolkit_config, todays_redriva):
    """Base URL of the toolkit mounted into today's Redriva, served by hypercorn."""
    served = serve_mounted(toolkit_config, todays_redriva)
    try:
        yield served.url
    finally:
        served.stop()
