"""The follow-up of the repair searches as a person reads it (issue 16 item 5), in real
headless Chromium against the served app: two broken episodes deleted by a real-mode scan,
Sonarr (the contract-checked fake) asked to search both; one comes back (grabbed, imported,
its new link healthy), the other does not within the delay. The Scanner, under the
deletion, and the Dashboard say "repaired" and "still missing after 24 hours" (and in French)."""
from __future__ import annotations

import os
import sqlite3

import httpx
import pytest

from fakes.arr_server import FakeArr
from screenshots import shoot_part
from toolkit.testing import AUTH_HEADERS

from .test_browser_reading import scan
from .lost_episode import media_file

pytestmark = pytest.mark.browser


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


def test_the_scanner_and_the_dashboard_show_each_repairs_follow_up(
        toolkit_server, toolkit_config, browser_page, tmp_path, monkeypatch, expect):
    page = browser_page
    media, store = tmp_path / "tvlib", tmp_path / "tvstore"
    store.mkdir()
    sonarr = FakeArr("sonarr").start()
    try:
        episodes = {}
        for show in ("Show 1", "Show 2"):
            season = media / show / "Season 01"
            season.mkdir(parents=True)
            os.symlink(store / f"{show} gone.mkv", season / f"{show} - S01E01.mkv")  # BROKEN
            media_file(store / f"{show} E02.mkv")  # a good one: the store answers (no mount down)
            os.symlink(store / f"{show} E02.mkv", season / f"{show} - S01E02.mkv")
            series = sonarr.add_series(show, f"/tv/{show}")
            episodes[show] = sonarr.add_episode_file(series, 1, [1])[1][0]
        sonarr.disk_map["/tv"] = str(media)
        monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(media))
        saved = httpx.post(f"{toolkit_server}/api/symlink/config", headers=AUTH_HEADERS, json={
            "sonarr_enabled": True, "sonarr_host": "127.0.0.1", "sonarr_port": sonarr.port,
            "sonarr_api_key": sonarr.api_key, "repair_policy": "targeted",
            "path_mappings": [{"toolkit_prefix": str(media), "arr_prefix": "/tv"}]})
        assert saved.status_code == 200, saved.text

        scan_id = scan(page, toolkit_server, expect, real=True)
        token = httpx.get(f"{toolkit_server}/api/symlink/scan/status/{scan_id}",
                          headers=AUTH_HEADERS).json()["deletion"]["token"]
        started = httpx.post(f"{toolkit_server}/api/symlink/scans/{scan_id}/delete", headers=AUTH_HEADERS,
                             json={"all": True, "token": token, "override": True})
        assert started.status_code == 202, started.text
        page.goto(f"{toolkit_server}/symlink?tab=scanner&scan={scan_id}")
        card = page.locator(f"#sl-repairs-{scan_id}")
        expect(card.locator("h2")).to_contain_text("Repairs followed", timeout=60_000)
        rows = card.locator("tr[data-follow]")
        expect(rows).to_have_count(2)
        expect(card.locator(".sl-follow-text")).to_have_text(["searching", "searching"])

        # Show 1 comes back under a new name; Show 2's search was a day and more ago, nothing since
        new_link = media / "Show 1" / "Season 01" / "Show 1 - S01E01 - New.mkv"
        media_file(store / "new.mkv")
        os.symlink(store / "new.mkv", new_link)
        sonarr.grab(episode=episodes["Show 1"])
        sonarr.import_file(f"/tv/Show 1/Season 01/{new_link.name}", episode=episodes["Show 1"])
        sonarr.grab(episode=episodes["Show 2"])
        with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
            db.execute("UPDATE symlink_repair_follows SET requested_at = datetime(requested_at, '-30 hours') "
                       "WHERE title = 'Show 2'")
        card.get_by_role("button", name="Check now").click()
        expect(card.get_by_role("status")).to_have_text("Checked just now.")
        expect(card.locator('tr:has-text("Show 1") .sl-follow-text')).to_have_text(
            "repaired: imported and its new link is healthy")
        expect(card.locator('tr:has-text("Show 2") .sl-follow-text')).to_have_text("still missing after 24 hours")
        expect(card.locator(".sl-life-counts [data-state]")).to_have_text(["still missing 1", "repaired 1"])

        page.goto(f"{toolkit_server}/symlink?tab=dashboard")
        dashboard = page.locator("#sl-repairs")
        expect(dashboard.locator(".sl-follow-text")).to_have_text(
            ["still missing after 24 hours", "repaired: imported and its new link is healthy"])
        expect(dashboard.locator(".sl-life-counts [data-state]")).to_have_text(["still missing 1", "repaired 1"])
        shoot_part(dashboard, "symlink-repairs")
        # the deleted link's problem is fixed, "replaced and healthy" by the repair
        expect(page.locator('#sl-lives a[data-state="fixed"] strong')).to_have_text("1")
        page.locator('#sl-lives a[data-state="fixed"]').click()
        expect(page.locator("#sl-lives .sl-life-story")).to_contain_text("(brought back by Sonarr/Radarr)")

        page.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9"})  # and in French
        page.goto(f"{toolkit_server}/symlink?tab=dashboard")
        dashboard = page.locator("#sl-repairs")
        expect(dashboard.locator("h2")).to_contain_text("Réparations suivies")
        expect(dashboard.locator(".sl-follow-text")).to_have_text(
            ["toujours manquant après 24 heures", "réparé : importé et son nouveau lien est sain"])
        expect(dashboard.locator(".sl-life-counts [data-state]")).to_have_text(["toujours manquant 1", "réparé 1"])
    finally:
        sonarr.stop()
    assert not sonarr.violations, sonarr.violations
