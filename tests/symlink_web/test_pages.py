"""The /symlink page and its htmx fragments, through the real app."""
from __future__ import annotations

import os
import re
from urllib.parse import urlencode

from .conftest import settle_counts, wait_scan

HX = {"HX-Request": "true"}


async def test_full_page_or_tab_fragment_from_the_same_url(toolkit_client):
    full = await toolkit_client.get("/symlink?tab=settings")
    html = await full.get_data(as_text=True)
    assert full.status_code == 200 and "<html" in html and 'id="sl-settings"' in html
    assert 'aria-selected="true"' in html.split('id="tab-settings"')[1].split(">")[0]
    assert full.headers["Vary"] == "HX-Request"
    part = await toolkit_client.get("/symlink?tab=dashboard", headers=HX)
    fragment = await part.get_data(as_text=True)
    assert "<html" not in fragment and "New scan" in fragment and 'role="tablist"' in fragment
    restore = await toolkit_client.get("/symlink?tab=scanner", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in await restore.get_data(as_text=True)  # back button: htmx wants the whole page


async def test_dashboard_says_when_the_media_path_is_missing(toolkit_client):
    html = await (await toolkit_client.get("/symlink")).get_data(as_text=True)
    assert "/app/medias" in html and "does not exist" in html and "No scan yet" in html


async def test_directory_picker_shows_counts_and_polls_until_counted(toolkit_app, toolkit_client, media_env):
    html = await (await toolkit_client.get("/symlink/fragments/directories", headers=HX)).get_data(as_text=True)
    assert "Show 1" in html and "counting…" in html and 'hx-trigger="load delay:1s"' in html
    await settle_counts(toolkit_app)
    html = await (await toolkit_client.get("/symlink/fragments/directories", headers=HX)).get_data(as_text=True)
    assert 'data-count="5"' in html and "counting…" not in html
    outside = await toolkit_client.get("/symlink/fragments/count", query_string={"path": "/"}, headers=HX)
    assert "count failed" in await outside.get_data(as_text=True)


async def test_progress_polls_then_stops_with_286_and_shows_results(toolkit_client, media_env):
    response = await toolkit_client.post("/symlink/scan", form={
        "paths": str(media_env.media / "Show 1"), "mode": "dry-run", "verification_depth": "basic"}, headers=HX)
    html = await response.get_data(as_text=True)
    scan_id = response.headers["HX-Push-Url"].rsplit("=", 1)[1]
    assert re.search(r'hx-trigger="(every 1s|load delay:250ms)"', html) or 'data-status="completed"' in html
    await wait_scan(toolkit_client, scan_id)
    done = await toolkit_client.get(f"/symlink/scans/{scan_id}/progress", headers=HX)
    assert done.status_code == 286
    html = await done.get_data(as_text=True)
    assert "every 1s" not in html and f"/symlink/scans/{scan_id}/results" in html
    results = await (await toolkit_client.get(f"/symlink/scans/{scan_id}/results?status=BROKEN", headers=HX)).get_data(as_text=True)
    broken = [p for p in media_env.broken if "Show 1" in str(p)]
    assert all(str(p) in results for p in broken) and "SMALL_FILE</span>" not in results


async def test_start_errors_are_shown_in_place(toolkit_client, media_env):
    response = await toolkit_client.post("/symlink/scan", form={"paths": "/etc", "mode": "dry-run"}, headers=HX)
    html = await response.get_data(as_text=True)
    assert response.status_code == 200 and 'role="alert"' in html and "not under the media path" in html


async def test_settings_autosave_reports_saved_or_field_errors(toolkit_client, tmp_path):
    form = urlencode([("media_path", str(tmp_path)), ("max_workers", "4"),
                      ("sonarr_enabled", "false"), ("sonarr_enabled", "true")])  # hidden + checkbox
    ok = await toolkit_client.post("/symlink/settings", data=form, headers={
        **HX, "Content-Type": "application/x-www-form-urlencoded"})
    html = await ok.get_data(as_text=True)
    assert 'data-state="saved"' in html
    # the warning about the previous (missing) media path is replaced, out of band, by none
    assert re.search(r'<p id="sl-media-path-problem" class="tk-warn" hx-swap-oob="true"></p>', html)
    config = await (await toolkit_client.get("/api/symlink/config")).get_json()
    assert config["max_workers"] == 4 and config["sonarr_enabled"] is True
    bad = await toolkit_client.post("/symlink/settings", headers=HX, form={
        "media_path": str(tmp_path / "missing"), "max_workers": "0"})
    html = await bad.get_data(as_text=True)
    assert 'data-state="error"' in html and "does not exist" in html
    assert (await (await toolkit_client.get("/api/symlink/config")).get_json())["max_workers"] == 4


async def test_confirmation_lists_the_links_before_anything_is_deleted(toolkit_client, media_env):
    start = await toolkit_client.post("/api/symlink/scan/start", json={"paths": [str(media_env.media)], "mode": "real"})
    scan_id = (await start.get_json())["scan_id"]
    await wait_scan(toolkit_client, scan_id)
    html = await (await toolkit_client.get(f"/symlink/scans/{scan_id}/confirm?per_page=1", headers=HX)).get_data(as_text=True)
    assert f"Page 1 / {len(media_env.problems)}" in html and 'name="token"' in html
    assert f"Delete {len(media_env.problems)} links" in html
    assert all(os.path.islink(p) for p in media_env.problems)


async def test_a_ticked_selection_is_confirmed_and_deleted_alone(toolkit_app, toolkit_client, media_env):
    from .conftest import wait_job

    start = await toolkit_client.post("/api/symlink/scan/start", json={"paths": [str(media_env.media)], "mode": "real"})
    scan_id = (await start.get_json())["scan_id"]
    await wait_scan(toolkit_client, scan_id)
    results = await (await toolkit_client.get(f"/symlink/scans/{scan_id}/results", headers=HX)).get_data(as_text=True)
    assert results.count('class="sl-pick"') == len(media_env.problems)
    items = (await (await toolkit_client.get(f"/api/symlink/scans/{scan_id}")).get_json())["problems"]["items"]
    chosen = items[:2]
    query = "&".join(f"ids={p['id']}" for p in chosen)
    dialog = await (await toolkit_client.get(f"/symlink/scans/{scan_id}/confirm?{query}", headers=HX)).get_data(as_text=True)
    assert "Delete 2 symlinks?" in dialog and all(p["path"] in dialog for p in chosen)
    assert items[2]["path"] not in dialog
    response = await toolkit_client.post(
        f"/symlink/scans/{scan_id}/delete", data=query + "&token=x",
        headers={**HX, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code in (200, 286) and 'role="alert"' not in await response.get_data(as_text=True)
    status = await (await toolkit_client.get(f"/api/symlink/scan/status/{scan_id}")).get_json()
    await wait_job(toolkit_app, status["deletion"]["job_id"])
    assert not any(os.path.lexists(p["path"]) for p in chosen)
    assert all(os.path.islink(p["path"]) for p in items[2:])


async def test_path_mappings_are_edited_as_lines(toolkit_client):
    form = {"path_mappings": "/srv/media/tv = /tv\n\n/srv/media/movies = /movies"}
    html = await (await toolkit_client.post("/symlink/settings", headers=HX, form=form)).get_data(as_text=True)
    assert 'data-state="saved"' in html
    config = await (await toolkit_client.get("/api/symlink/config")).get_json()
    assert config["path_mappings"] == [{"toolkit_prefix": "/srv/media/tv", "arr_prefix": "/tv"},
                                       {"toolkit_prefix": "/srv/media/movies", "arr_prefix": "/movies"}]
    page = await (await toolkit_client.get("/symlink?tab=settings", headers=HX)).get_data(as_text=True)
    assert "/srv/media/tv = /tv\n/srv/media/movies = /movies</textarea>" in page
    bad = await (await toolkit_client.post("/symlink/settings", headers=HX, form={"path_mappings": "/tv"})).get_data(as_text=True)
    assert 'data-state="error"' in bad and "mapping 1: write /path/in/toolkit = /path/in/sonarr" in bad
    relative = await (await toolkit_client.post("/symlink/settings", headers=HX, form={"path_mappings": "tv = /tv"})).get_data(as_text=True)
    assert 'data-state="error"' in relative and "absolute" in relative


async def test_path_mappings_read_as_on_the_media_servers_page(toolkit_client):
    """One parser for every mappings field: the "; " the Media servers page writes reads
    back here too (it used to become one mapping to "/tv; /srv/media/movies = /movies")."""
    form = {"path_mappings": "/srv/media/tv = /tv; /srv/media/movies = /movies"}
    html = await (await toolkit_client.post("/symlink/settings", headers=HX, form=form)).get_data(as_text=True)
    assert 'data-state="saved"' in html
    config = await (await toolkit_client.get("/api/symlink/config")).get_json()
    assert config["path_mappings"] == [{"toolkit_prefix": "/srv/media/tv", "arr_prefix": "/tv"},
                                       {"toolkit_prefix": "/srv/media/movies", "arr_prefix": "/movies"}]


def test_the_plugin_adds_the_engines_cli_group():
    from click.testing import CliRunner

    from toolkit.cli import build_cli

    result = CliRunner().invoke(build_cli(), ["symlink", "--help"])
    assert result.exit_code == 0 and "scan" in result.output and "restore" in result.output
