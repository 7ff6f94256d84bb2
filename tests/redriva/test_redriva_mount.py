"""Routing both ways through one hypercorn-served ASGI app: Redriva's routes, forms, JSON and
static files still come from Redriva; the toolkit's pages, API (with its JSON errors), static
files and every plugin's routes come from the toolkit."""
from __future__ import annotations

import logging
import sys
import threading

import httpx
import pytest
from flask import Flask

from toolkit.testing import AUTH_HEADERS, ServedApp, make_app
from toolkit.web.redriva import (RedrivaMountError, load_wsgi_app, mount_redriva,
                                 toolkit_namespaces)

from .conftest import PLUGINS, SEEDED, create_redriva, serve_mounted, torrent_names


def test_redriva_pages_come_from_redriva_and_its_database(mounted):
    dashboard = httpx.get(mounted + "/")
    assert dashboard.status_code == 200
    assert '<div class="nav">' in dashboard.text and "🚀 Redriva Web" in dashboard.text
    assert 'data-status="downloaded">downloaded: 1' in dashboard.text

    torrents = httpx.get(mounted + "/torrents")
    assert torrents.status_code == 200
    for name, _ in SEEDED:
        assert f'<td class="torrent-name">{name}</td>' in torrents.text


def test_redriva_form_post_redirects_flashes_and_writes_its_sqlite(mounted, redriva_db):
    with httpx.Client(base_url=mounted) as client:
        posted = client.post("/torrents", data={"name": "New.Show.S02E03.mkv",
                                                "status": "downloaded"})
        assert posted.status_code == 302 and posted.headers["location"] == "/torrents"
        page = client.get("/torrents")  # the flash message travels in Redriva's session cookie
    assert "✅ New.Show.S02E03.mkv ajouté" in page.text
    assert torrent_names(redriva_db)[-1] == "New.Show.S02E03.mkv"

    refused = httpx.post(mounted + "/torrents", data={"name": "  "})
    assert refused.status_code == 400 and "Le nom est obligatoire" in refused.text
    assert len(torrent_names(redriva_db)) == len(SEEDED) + 1


def test_redriva_api_static_and_errors_stay_redriva(mounted):
    status = httpx.get(mounted + "/api/task_status")
    assert status.json()["source"] == "redriva"
    css = httpx.get(mounted + "/static/redriva.css")
    assert css.status_code == 200 and ".nav a" in css.text
    missing = httpx.get(mounted + "/no-such-page")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "<title>404 Not Found</title>" in missing.text  # Flask's page, not the toolkit's


def test_bodyless_redriva_responses_are_sent(mounted):
    """HEAD and 304 have no body chunk at all: hypercorn's WSGI bridge needs one to start."""
    head = httpx.head(mounted + "/torrents")
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/html")
    css = httpx.get(mounted + "/static/redriva.css")
    revalidated = httpx.get(mounted + "/static/redriva.css",
                            headers={"If-None-Match": css.headers["etag"]})
    assert revalidated.status_code == 304


def test_large_redriva_body_beyond_hypercorn_default(mounted, redriva_db):
    """hypercorn's WSGI bridge refuses bodies over 64 KiB by default; Redriva gets 16 MiB."""
    names = [f"Import.{i:05}.mkv" for i in range(8000)]  # ~ 150 KiB
    answer = httpx.post(mounted + "/api/torrents/import", content="\n".join(names))
    assert answer.status_code == 200 and answer.json() == {"imported": 8000}
    assert torrent_names(redriva_db)[-1] == names[-1]


def test_toolkit_pages_api_and_static_come_from_the_toolkit(mounted):
    page = httpx.get(mounted + "/symlink", headers=AUTH_HEADERS)
    assert page.status_code == 200 and "Symlink manager" in page.text
    assert httpx.get(mounted + "/api/toolkit/health").json()["status"] == "ok"
    assert httpx.get(mounted + "/api/symlink/config", headers=AUTH_HEADERS).status_code == 200
    for path in ("/toolkit/static/toolkit.css", "/symlink/static/symlink.css"):
        static = httpx.get(mounted + path, headers=AUTH_HEADERS)
        assert static.status_code == 200 and static.headers["content-type"].startswith("text/css")


def test_toolkit_api_errors_are_the_toolkits_json(mounted):
    unknown = httpx.get(mounted + "/api/symlink/no-such-thing", headers=AUTH_HEADERS)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    bad = httpx.post(mounted + "/api/toolkit/schedules", content=b"not json",
                     headers={"Content-Type": "application/json", **AUTH_HEADERS})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "expected a JSON object body"
    # the toolkit's cross-site guard still applies to its own routes
    refused = httpx.post(mounted + "/api/toolkit/schedules", json={},
                         headers={"Origin": "http://evil.example", **AUTH_HEADERS})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"


def test_other_plugins_routes_are_routed_from_the_url_map(mounted):
    assert httpx.get(mounted + "/report", headers=AUTH_HEADERS).text == "<h1>Library report</h1>"
    assert httpx.get(mounted + "/api/report/summary", headers=AUTH_HEADERS).json() == {"links": 0}


def test_namespaces_come_from_the_url_map(toolkit_config):
    namespaces = toolkit_namespaces(make_app(toolkit_config, PLUGINS))
    assert set(namespaces) == {"/toolkit", "/api/toolkit", "/symlink", "/api/symlink",
                               "/queue", "/api/queue", "/report", "/api/report"}
    # without the extra plugin its namespaces are Redriva's
    assert "/report" not in toolkit_namespaces(make_app(toolkit_config))


def test_routing_decisions(toolkit_config, plain_redriva):
    mount = mount_redriva(make_app(toolkit_config), plain_redriva)
    for path in ("/symlink", "/symlink/scan", "/api/symlink/x/y", "/api/toolkit",
                 "/toolkit/static/toolkit.css"):
        assert mount.routes_to_toolkit(path), path
    for path in ("/", "/torrents", "/api/task_status", "/api", "/static/x.css", "/symlinks",
                 "/api/symlinkx", "/toolkitx"):
        assert not mount.routes_to_toolkit(path), path


def test_a_slow_redriva_request_does_not_hold_the_toolkit(mounted, redriva):
    """Redriva's WSGI code runs in threads of its own, never on the event loop."""
    gate = redriva.config["SYNC_GATE"]
    result: dict = {}
    in_flight = threading.Thread(
        target=lambda: result.update(httpx.get(mounted + "/api/sync", timeout=30).json()))
    in_flight.start()
    try:
        assert httpx.get(mounted + "/api/toolkit/health", timeout=10).status_code == 200
        assert httpx.get(mounted + "/torrents", timeout=10).status_code == 200
        assert not result  # Redriva's sync is still waiting
    finally:
        gate.set()
        in_flight.join(30)
    assert result == {"synced": True}


def test_redriva_routes_the_toolkit_takes_over_are_logged(toolkit_config, redriva_db, caplog):
    """Recent Redriva versions have their own /symlink page: the toolkit's replaces it."""
    app = create_redriva(redriva_db)
    app.add_url_rule("/symlink", "old_symlink", lambda: "old symlink tool")
    with caplog.at_level(logging.WARNING, logger="toolkit.web.redriva"):
        served = serve_mounted(toolkit_config, app)
    try:
        assert "Symlink manager" in httpx.get(served.url + "/symlink", headers=AUTH_HEADERS).text
    finally:
        served.stop()
    assert "the toolkit answers these Redriva routes from now on: /symlink" in caplog.text


@pytest.mark.parametrize("target, message", [
    ("src.web", "expected MODULE:APP"),
    ("no_such_redriva.web:app", "cannot import 'no_such_redriva.web'"),
    ("src.web:nope", "has no attribute 'nope'"),
    ("src.web:PROJECT", "is not a WSGI application"),
])
def test_bad_redriva_target_is_a_clear_error(target, message):
    with pytest.raises(RedrivaMountError, match=message):
        load_wsgi_app(target)


def test_an_asgi_app_is_refused(toolkit_config):
    with pytest.raises(RedrivaMountError, match="not a WSGI application"):
        mount_redriva(make_app(toolkit_config), make_app(toolkit_config))


def test_lifespan_runs_the_toolkit_and_redriva_keeps_no_threads(toolkit_config, redriva):
    served = ServedApp(mount := mount_redriva(make_app(toolkit_config), redriva)).start()
    try:
        # health needs the database the toolkit's startup upgraded
        assert httpx.get(served.url + "/api/toolkit/jobs", headers=AUTH_HEADERS).status_code == 200
        assert httpx.get(served.url + "/").status_code == 200
        assert httpx.get(served.url + "/symlink", headers=AUTH_HEADERS).status_code == 200
        assert set(mount._executors) == {"redriva", "redriva-layout"}
    finally:
        served.stop()
    assert mount._executors == {}  # shut down with the lifespan


def test_load_by_name_imports_from_the_current_directory(monkeypatch, tmp_path):
    """As under gunicorn: ``src.web:app`` is found from Redriva's directory."""
    project = tmp_path / "redriva"
    (project / "web_elsewhere").mkdir(parents=True)
    (project / "web_elsewhere" / "__init__.py").write_text(
        "from flask import Flask\napp = Flask('elsewhere')\n")
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    assert isinstance(load_wsgi_app("web_elsewhere:app"), Flask)


@pytest.mark.parametrize("path", ["/api/check_token", "/api/interrupt"])
def test_redriva_failures_stay_redrivas(mounted, path, caplog):
    """``sys.exit`` or ``KeyboardInterrupt`` inside a Redriva request: a 500 for that request;
    the server, the toolkit and Redriva's other pages go on."""
    with caplog.at_level(logging.ERROR, logger="toolkit.web.redriva"):
        failed = httpx.get(mounted + path, timeout=10)
    assert failed.status_code == 500 and "Redriva failed on this request" in failed.text
    assert f"Redriva failed on GET {path}" in caplog.text
    assert httpx.get(mounted + "/api/toolkit/health", timeout=10).json()["status"] == "ok"
    assert httpx.get(mounted + "/api/toolkit/jobs", timeout=10, headers=AUTH_HEADERS).status_code == 200
    assert httpx.get(mounted + "/torrents", timeout=10).status_code == 200
    assert httpx.get(mounted + "/symlink", timeout=10, headers=AUTH_HEADERS).status_code == 200


def test_redriva_failing_half_way_through_a_streamed_answer(mounted):
    answer = httpx.get(mounted + "/api/export", timeout=10)
    assert answer.status_code == 200 and answer.text == "first line\n"  # the answer ends there
    assert httpx.get(mounted + "/api/toolkit/health", timeout=10).json()["status"] == "ok"
