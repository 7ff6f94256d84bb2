"""The web shell: core endpoints, error shape, cross-site protection, layout, OpenAPI."""
from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

from toolkit.core.hookspecs import Task
from toolkit.web.app import HTMX
from toolkit.testing import toolkit_of_app

from .plugin_kit import make_plugin

WEB = Path(__file__).resolve().parents[2] / "toolkit" / "web"


async def slow(ctx, seconds: float = 30.0):
    for _ in range(int(seconds * 20)):
        if ctx.should_abort():
            return {"stopped": True}
        await asyncio.sleep(0.05)
    return {"stopped": False}


SLOW = ("kit", make_plugin("kit", toolkit_register_tasks=lambda: Task("kit:slow", slow)))


async def test_health(toolkit_client):
    response = await toolkit_client.get("/api/toolkit/health")
    body = await response.get_json()
    assert response.status_code == 200
    assert body["status"] == "ok" and body["version"] and body["plugins"] >= 1


async def test_plugins_endpoint_lists_source_hooks_and_error(toolkit_client):
    plugins = await (await toolkit_client.get("/api/toolkit/plugins")).get_json()
    symlink = next(p for p in plugins if p["name"] == "symlink")
    assert set(symlink) == {"name", "version", "source", "status", "hooks", "error"}
    assert symlink["source"] == "builtin" and "toolkit_menu_links" in symlink["hooks"]


async def test_jobs_endpoints_list_show_and_cancel(toolkit_app_factory):
    async with toolkit_app_factory([SLOW], entry_points=False) as app:
        client = app.test_client()
        job = await toolkit_of_app(app).runner.enqueue("kit:slow", {})
        listed = await (await client.get("/api/toolkit/jobs?task=kit:slow")).get_json()
        assert [j["id"] for j in listed] == [job.id]
        one = await (await client.get(f"/api/toolkit/jobs/{job.id}")).get_json()
        assert one["task"] == "kit:slow" and one["state"] in ("queued", "running")
        cancelled = await client.post(f"/api/toolkit/jobs/{job.id}/cancel")
        assert (await cancelled.get_json())["state"] in ("cancelling", "cancelled")
        final = await toolkit_of_app(app).runner.wait(job.id, 5)
        assert (final.state, final.result) == ("cancelled", {"stopped": True})
        bad = await client.get("/api/toolkit/jobs?limit=lots")
        assert bad.status_code == 400


async def test_errors_have_one_json_shape(toolkit_client):
    for path, status in (("/api/toolkit/jobs/nope", 404), ("/api/toolkit/nothing-here", 404)):
        response = await toolkit_client.get(path)
        error = (await response.get_json())["error"]
        assert response.status_code == status == error["status"]
        assert error["code"] == "not_found" and error["message"]
    wrong_method = await toolkit_client.delete("/api/toolkit/health")
    assert (await wrong_method.get_json())["error"]["status"] == 405


async def test_cross_site_state_changes_are_refused(toolkit_app_factory):
    async with toolkit_app_factory([SLOW], entry_points=False) as app:
        client = app.test_client()
        job = await toolkit_of_app(app).runner.enqueue("kit:slow", {})
        url = f"/api/toolkit/jobs/{job.id}/cancel"
        evil = await client.post(url, headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        assert (await evil.get_json())["error"]["code"] == "csrf"
        fetch = await client.post(url, headers={"Sec-Fetch-Site": "cross-site"})
        assert fetch.status_code == 403
        assert (await toolkit_of_app(app).runner.get(job.id)).state in ("queued", "running")
        same = await client.post(url, headers={"Origin": "http://localhost",
                                               "Sec-Fetch-Site": "same-origin"})
        assert same.status_code == 200


async def test_layout_has_menu_and_pinned_htmx(toolkit_client):
    html = await (await toolkit_client.get("/")).get_data(as_text=True)
    assert re.search(r'<nav class="nav tk-nav"[^>]*>.*href="/symlink"', html, re.S)
    assert f'src="/toolkit/static/{HTMX}"' in html
    asset = await toolkit_client.get(f"/toolkit/static/{HTMX}")
    body = await asset.get_data()
    assert asset.status_code == 200
    assert hashlib.sha256(body).hexdigest() == \
        "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    assert b'version:"2.0.11"' in body
    assert (WEB / "static" / "vendor" / "htmx-LICENSE.txt").read_text().startswith("Zero-Clause BSD")


async def test_openapi_document_lists_every_api_route(toolkit_app):
    client = toolkit_app.test_client()
    doc = await (await client.get("/api/toolkit/openapi.json")).get_json()
    assert doc["openapi"].startswith("3.")
    api_rules = {re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", r.rule)
                 for r in toolkit_app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert set(doc["paths"]) == api_rules
    cancel = doc["paths"]["/api/toolkit/jobs/{job_id}/cancel"]["post"]
    assert cancel["parameters"][0]["name"] == "job_id"
    assert cancel["summary"].startswith("Ask a job to stop")


def test_shell_in_a_real_browser(toolkit_server, browser_page):
    browser_page.goto(toolkit_server + "/")
    assert browser_page.title() == "Redriva Toolkit"
    link = browser_page.get_by_role("navigation", name="Main menu").get_by_role("link",
                                                                            name="🔗 Symlink")
    assert link.get_attribute("href") == "/symlink"
    assert browser_page.evaluate("typeof htmx !== 'undefined' && htmx.version") == "2.0.11"
