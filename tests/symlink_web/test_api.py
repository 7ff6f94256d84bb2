"""The symlink API against the real app (lifespan running, job runner, real SQLite file) and a
real generated library of symlinks on disk."""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3

import pytest

from toolkit.core.settings import MASK

from fakes.arr_server import FakeArr
from fakes.docker_engine import FakeDockerEngine

from fakes.library import build_library

from .conftest import settle_counts, wait_job, wait_scan
from .lost_episode import lost_episode, scan_and_delete


async def start(client, paths, mode="dry-run", depth="basic"):
    response = await client.post("/api/symlink/scan/start",
                                 json={"paths": paths, "mode": mode, "verification_depth": depth})
    return response.status_code, await response.get_json()


# ------------------------------------------------------------------------ config

async def test_config_defaults_are_created_and_stored_in_symlink_config(toolkit_client, toolkit_config):
    response = await toolkit_client.get("/api/symlink/config")
    body = await response.get_json()
    assert response.status_code == 200
    assert body["media_path"] == "/app/medias" and body["max_workers"] == 12  # rclone's 12 reads at once
    assert body["sonarr_api_key"] == "" and body["media_path_problem"]  # /app/medias is absent here
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        row = db.execute("SELECT id, media_path, max_workers FROM symlink_config").fetchall()
    assert row == [(1, "/app/medias", 12)]


async def test_workers_saved_under_the_old_default_stay_as_saved(toolkit_client, toolkit_config):
    await toolkit_client.get("/api/symlink/config")  # the row is created
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        db.execute("UPDATE symlink_config SET max_workers = 6")  # the default until 2026-11-30

    body = await (await toolkit_client.get("/api/symlink/config")).get_json()

    assert body["max_workers"] == 6


async def test_config_validates_every_field_and_saves_nothing_when_one_is_wrong(toolkit_client, tmp_path):
    before = await (await toolkit_client.get("/api/symlink/config")).get_json()
    response = await toolkit_client.post("/api/symlink/config", json={
        "media_path": str(tmp_path / "missing"), "max_workers": 0, "sonarr_port": 70000,
        "sonarr_host": "http://sonarr:8989"})
    assert response.status_code == 422
    fields = (await response.get_json())["error"]["fields"]
    assert set(fields) >= {"media_path", "max_workers", "sonarr_port", "sonarr_host"}
    after = await (await toolkit_client.get("/api/symlink/config")).get_json()
    assert after == before


async def test_media_path_must_be_a_readable_directory(toolkit_client, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for bad, message in ((str(tmp_path / "nope"), "does not exist"), (str(a_file), "not a folder"),
                         ("relative/path", "absolute")):
        response = await toolkit_client.post("/api/symlink/config", json={"media_path": bad})
        assert response.status_code == 422, bad
        assert message in (await response.get_json())["error"]["fields"]["media_path"]
    response = await toolkit_client.post("/api/symlink/config", json={"media_path": str(tmp_path)})
    body = await response.get_json()
    assert response.status_code == 200 and body["media_path"] == str(tmp_path)
    assert body["media_path_problem"] is None


async def test_a_missing_media_path_saves_none_of_the_other_changes(toolkit_client, tmp_path):
    response = await toolkit_client.post("/api/symlink/config", json={
        "media_path": str(tmp_path / "missing"), "max_workers": 3, "radarr_port": 0})
    fields = (await response.get_json())["error"]["fields"]
    assert response.status_code == 422 and set(fields) == {"media_path", "radarr_port"}
    config = await (await toolkit_client.get("/api/symlink/config")).get_json()
    assert config["max_workers"] == 12 and config["media_path"] == "/app/medias"


async def test_api_keys_are_masked_and_kept_when_the_mask_comes_back(toolkit_client, toolkit_config):
    key = "0123456789abcdef0123456789abcdef"
    response = await toolkit_client.post("/api/symlink/config", json={
        "sonarr_enabled": True, "sonarr_host": "sonarr", "sonarr_api_key": key})
    body = await response.get_json()
    assert body["sonarr_api_key"] == MASK and key not in str(body)
    await toolkit_client.post("/api/symlink/config", json={"sonarr_api_key": MASK, "max_workers": 4})
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        workers = db.execute("SELECT max_workers FROM symlink_config").fetchone()[0]
        connection = db.execute(
            "SELECT \"values\" FROM toolkit_settings WHERE namespace = 'sonarr'").fetchone()[0]
    # the key is the host's Sonarr connection's (a new port or host drops it: test_secrets.py)
    assert workers == 4 and json.loads(connection) == {
        "enabled": True, "url": "http://sonarr:8989", "api_key": key}


# ------------------------------------------------------------------------ directories

async def test_directories_lists_one_level_with_counts_computed_in_background(toolkit_app, toolkit_client, media_env):
    first = await (await toolkit_client.get("/api/symlink/directories")).get_json()
    assert [d["name"] for d in first["subdirs"]] == ["Show 1", "Show 2", "Show 3"]
    assert first["path"] == str(media_env.media)
    await settle_counts(toolkit_app)
    body = await (await toolkit_client.get("/api/symlink/directories")).get_json()
    assert body["symlink_count"] == 3 * 4 + 3  # episodes + one .nfo per show
    assert [d["symlink_count"] for d in body["subdirs"]] == [5, 5, 5]
    assert not any(d["counting"] for d in body["subdirs"])
    deeper = await (await toolkit_client.get("/api/symlink/directories?path=Show%201")).get_json()
    assert [d["name"] for d in deeper["subdirs"]] == ["Season 1"]
    assert deeper["relative"] == "Show 1"


@pytest.mark.parametrize("path", ["../", "Show 1/../../etc", "/etc"])
async def test_directories_refuses_paths_outside_the_media_path(toolkit_client, media_env, path):
    response = await toolkit_client.get("/api/symlink/directories", query_string={"path": path})
    assert response.status_code == 400


# ------------------------------------------------------------------------ scans

async def test_dry_run_scan_records_statistics_and_problems(toolkit_client, media_env):
    status, body = await start(toolkit_client, ["Show 1", "Show 2", "Show 3"])
    assert status == 202 and body["status"] == "queued"
    final = await wait_scan(toolkit_client, body["scan_id"])
    assert final["status"] == "completed" and final["progress"] == 100.0
    stats = final["statistics"]
    assert stats["total_analyzed"] == 15
    assert stats["phase1_broken"] == len(media_env.broken)
    assert stats["phase1_small"] == len(media_env.small)
    assert stats["phase1_ok"] == len(media_env.healthy) + len(media_env.sidecars)
    assert final["deletion"]["allowed"] is False  # a dry run never deletes
    details = await (await toolkit_client.get(f"/api/symlink/scans/{body['scan_id']}")).get_json()
    assert {p["path"] for p in details["problems"]["items"]} == {str(p) for p in media_env.problems}
    assert all(os.path.islink(p) for p in media_env.problems)  # nothing deleted


async def test_problems_are_paginated_and_filtered_by_status(toolkit_client, media_env):
    _, body = await start(toolkit_client, [str(media_env.media)])
    await wait_scan(toolkit_client, body["scan_id"])
    url = f"/api/symlink/scans/{body['scan_id']}"
    broken = await (await toolkit_client.get(url, query_string={"status": "BROKEN"})).get_json()
    assert {p["path"] for p in broken["problems"]["items"]} == {str(p) for p in media_env.broken}
    page1 = (await (await toolkit_client.get(url, query_string={"per_page": 2})).get_json())["problems"]
    page2 = (await (await toolkit_client.get(url, query_string={"per_page": 2, "page": 2})).get_json())["problems"]
    assert page1["total"] == len(media_env.problems) and page1["pages"] == 3
    assert len(page1["items"]) == 2 and not {p["id"] for p in page1["items"]} & {p["id"] for p in page2["items"]}
    assert page1["counts_by_status"] == {"BROKEN": len(media_env.broken), "SMALL_FILE": len(media_env.small)}
    bad = await toolkit_client.get(url, query_string={"status": "NOPE"})
    assert bad.status_code == 400


@pytest.mark.parametrize("paths", [["../"], ["/etc"], ["Show 1/../../"], [], ["Missing show"]])
async def test_scan_paths_must_lie_under_the_media_path(toolkit_client, media_env, paths):
    status, body = await start(toolkit_client, paths)
    assert status == 400 and body["error"]["fields"]


async def test_scan_refuses_a_symlink_escaping_the_media_path(toolkit_client, media_env, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, media_env.media / "escape")
    status, body = await start(toolkit_client, ["escape"])
    assert status == 400 and "outside the media path" in str(body)


async def test_bad_mode_or_depth_is_a_clear_400(toolkit_client, media_env):
    status, body = await start(toolkit_client, ["Show 1"], mode="wipe", depth="extreme")
    assert status == 400 and set(body["error"]["fields"]) == {"mode", "verification_depth"}


async def test_second_scan_on_the_same_or_overlapping_folders_is_409(toolkit_app, toolkit_client, media_env):
    from toolkit.web.app import current_toolkit

    async with toolkit_app.app_context():
        runner = current_toolkit().runner
        runner._queue = type(runner._queue)()  # a queue no worker reads: the scan stays queued
    _, first = await start(toolkit_client, ["Show 1"])
    status, again = await start(toolkit_client, ["Show 1"])
    assert status == 409 and again["error"]["code"] == "already_running"
    status, parent = await start(toolkit_client, [str(media_env.media)])
    assert status == 409
    status, other = await start(toolkit_client, ["Show 2"])
    assert status == 202
    cancelled = await (await toolkit_client.post(f"/api/symlink/scan/cancel/{first['scan_id']}")).get_json()
    assert cancelled["status"] == "cancelled"


async def test_history_keeps_the_last_three_scans_and_rotates_their_problems(toolkit_client, toolkit_config, media_env):
    ids = []
    for _ in range(4):
        _, body = await start(toolkit_client, ["Show 1"])
        await wait_scan(toolkit_client, body["scan_id"])
        ids.append(body["scan_id"])
    history = await (await toolkit_client.get("/api/symlink/scans/history")).get_json()
    assert [h["scan_id"] for h in history] == ids[:0:-1]
    assert (await toolkit_client.get(f"/api/symlink/scans/{ids[0]}")).status_code == 404
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        scans_with_problems = {r[0] for r in db.execute("SELECT DISTINCT scan_id FROM symlink_problems")}
    assert scans_with_problems == set(ids[1:])


async def test_rerun_starts_the_same_scan_again(toolkit_client, media_env):
    _, body = await start(toolkit_client, ["Show 2"], mode="real")
    await wait_scan(toolkit_client, body["scan_id"])
    response = await toolkit_client.post(f"/api/symlink/scans/{body['scan_id']}/rerun")
    again = await response.get_json()
    assert response.status_code == 202 and again["scan_id"] != body["scan_id"]
    final = await wait_scan(toolkit_client, again["scan_id"])
    assert final["mode"] == "real" and final["selected_paths"] == [str(media_env.media / "Show 2")]


async def test_unknown_scan_is_404(toolkit_client):
    assert (await toolkit_client.get("/api/symlink/scan/status/nope")).status_code == 404
    assert (await toolkit_client.post("/api/symlink/scan/cancel/nope")).status_code == 404


# ------------------------------------------------------------------------ ignore

async def test_ignored_items_leave_the_results_and_stay_ignored_in_later_scans(toolkit_client, media_env):
    _, body = await start(toolkit_client, ["Show 1"])
    await wait_scan(toolkit_client, body["scan_id"])
    items = (await (await toolkit_client.get(f"/api/symlink/scans/{body['scan_id']}")).get_json())["problems"]["items"]
    victim = items[0]
    response = await toolkit_client.post("/api/symlink/ignores", json={"problem_id": victim["id"]})
    assert response.status_code == 201
    _, again = await start(toolkit_client, ["Show 1"])
    await wait_scan(toolkit_client, again["scan_id"])
    url = f"/api/symlink/scans/{again['scan_id']}"
    shown = (await (await toolkit_client.get(url)).get_json())["problems"]["items"]
    assert victim["path"] not in {p["path"] for p in shown}
    hidden = (await (await toolkit_client.get(url, query_string={"ignored": "only"})).get_json())["problems"]["items"]
    assert [p["path"] for p in hidden] == [victim["path"]]
    ignores = await (await toolkit_client.get("/api/symlink/ignores")).get_json()
    await toolkit_client.delete(f"/api/symlink/ignores/{ignores[0]['id']}")
    shown = (await (await toolkit_client.get(url)).get_json())["problems"]["items"]
    assert victim["path"] in {p["path"] for p in shown}


# ------------------------------------------------------------------------ deletion

async def _real_scan(client, paths):
    _, body = await start(client, paths, mode="real")
    return await wait_scan(client, body["scan_id"])


async def test_nothing_is_deleted_by_a_real_scan_until_confirmed_then_restore(toolkit_app, toolkit_client, toolkit_config, media_env):
    final = await _real_scan(toolkit_client, [str(media_env.media)])
    assert final["status"] == "completed" and all(os.path.islink(p) for p in media_env.problems)
    deletion = final["deletion"]
    assert deletion["allowed"] and deletion["count"] == len(media_env.problems)
    response = await toolkit_client.post(f"/api/symlink/scans/{final['scan_id']}/delete",
                                         json={"all": True, "token": deletion["token"], "override": True})
    body = await response.get_json()
    assert response.status_code == 202, body
    job = await wait_job(toolkit_app, body["job_id"])
    assert job.state == "completed" and job.result["deleted"] == len(media_env.problems)
    assert not any(os.path.lexists(p) for p in media_env.problems)
    assert all(os.path.islink(p) for p in media_env.healthy + media_env.sidecars)
    details = await (await toolkit_client.get(f"/api/symlink/scans/{final['scan_id']}")).get_json()
    assert details["statistics"]["files_deleted"] == len(media_env.problems)
    assert {p["outcome"] for p in details["problems"]["items"]} == {"deleted"}
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        journal = db.execute("SELECT path, state FROM symlink_deletions").fetchall()
    assert sorted(journal) == sorted((str(p), "deleted") for p in media_env.problems)
    one = details["problems"]["items"][0]
    restored = await (await toolkit_client.post("/api/symlink/restore", json={"journal_ids": [one["journal_id"]]})).get_json()
    assert restored["restored"] == 1 and os.path.islink(one["path"])
    assert os.readlink(one["path"]) == one["target"]


async def test_delete_a_selection_only(toolkit_app, toolkit_client, media_env):
    final = await _real_scan(toolkit_client, ["Show 1"])
    items = (await (await toolkit_client.get(f"/api/symlink/scans/{final['scan_id']}")).get_json())["problems"]["items"]
    chosen = items[0]
    response = await toolkit_client.post(f"/api/symlink/scans/{final['scan_id']}/delete", json={"ids": [chosen["id"]]})
    body = await response.get_json()
    assert response.status_code == 202, body
    await wait_job(toolkit_app, body["job_id"])
    assert not os.path.lexists(chosen["path"])
    assert all(os.path.islink(p["path"]) for p in items[1:])


async def test_stale_confirmation_deletes_nothing(toolkit_client, media_env):
    final = await _real_scan(toolkit_client, ["Show 1"])
    other = await _real_scan(toolkit_client, ["Show 2"])
    other_items = (await (await toolkit_client.get(f"/api/symlink/scans/{other['scan_id']}")).get_json())["problems"]["items"]
    url = f"/api/symlink/scans/{final['scan_id']}/delete"
    wrong_scan = await toolkit_client.post(url, json={"ids": [other_items[0]["id"]]})
    assert wrong_scan.status_code == 409 and (await wrong_scan.get_json())["error"]["code"] == "stale_selection"
    items = (await (await toolkit_client.get(f"/api/symlink/scans/{final['scan_id']}")).get_json())["problems"]["items"]
    await toolkit_client.post("/api/symlink/ignores", json={"problem_id": items[0]["id"]})
    stale = await toolkit_client.post(url, json={"all": True, "token": final["deletion"]["token"]})
    assert stale.status_code == 409 and (await stale.get_json())["error"]["code"] == "stale_selection"
    assert all(os.path.islink(p) for p in media_env.problems)


async def test_dry_run_results_cannot_be_deleted(toolkit_client, media_env):
    _, body = await start(toolkit_client, ["Show 1"])
    final = await wait_scan(toolkit_client, body["scan_id"])
    response = await toolkit_client.post(f"/api/symlink/scans/{body['scan_id']}/delete",
                                         json={"all": True, "token": final["deletion"]["token"]})
    assert response.status_code == 409 and "dry run" in (await response.get_json())["error"]["message"]
    assert all(os.path.islink(p) for p in media_env.problems)


async def test_mass_deletion_needs_the_override(toolkit_client, tmp_path, monkeypatch):
    library = build_library(tmp_path / "lib", shows=2, episodes=25, broken_every=2, small_every=1000)
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(library.media))
    final = await _real_scan(toolkit_client, [str(library.media)])
    assert final["deletion"]["needs_override"]  # half of the links are broken
    response = await toolkit_client.post(f"/api/symlink/scans/{final['scan_id']}/delete",
                                         json={"all": True, "token": final["deletion"]["token"]})
    assert response.status_code == 409 and (await response.get_json())["error"]["code"] == "mass_deletion"
    assert all(os.path.islink(p) for p in library.broken)


async def test_cross_site_post_is_refused(toolkit_client, media_env):
    response = await toolkit_client.post("/api/symlink/scan/start", json={"paths": ["Show 1"]},
                                         headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


# ------------------------------------------------------------------------ services

async def test_services_answer_clearly_when_not_configured(toolkit_client):
    body = await (await toolkit_client.post("/api/symlink/test/services", json={})).get_json()
    assert body["sonarr"]["reason"] == "not_configured" and body["radarr"]["reason"] == "not_configured"


async def test_service_test_reports_the_version_found(toolkit_client):
    fake = FakeArr("sonarr").start()
    try:
        await toolkit_client.post("/api/symlink/config", json={
            "sonarr_enabled": True, "sonarr_host": "127.0.0.1", "sonarr_port": fake.port,
            "sonarr_api_key": fake.api_key})
        body = await (await toolkit_client.post("/api/symlink/test/services", json={"services": ["sonarr"]})).get_json()
        assert body["sonarr"]["ok"] is True and body["sonarr"]["app_name"] == "Sonarr" and body["sonarr"]["version"]
        await toolkit_client.post("/api/symlink/config", json={"sonarr_api_key": "0" * 32})
        body = await (await toolkit_client.post("/api/symlink/test/services", json={"services": ["sonarr"]})).get_json()
        assert body["sonarr"]["ok"] is False and body["sonarr"]["reason"] == "unauthorized"
        assert fake.violations == []  # every request matched the official API document
    finally:
        fake.stop()


async def test_docker_detection_without_docker_is_a_clear_503(toolkit_client, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    response = await toolkit_client.post("/api/symlink/services/detect")
    body = await response.get_json()
    assert response.status_code == 503 and "Docker" in body["error"]["message"]


async def test_docker_detection_proposes_and_applies_a_service(toolkit_client, tmp_path, monkeypatch, toolkit_config):
    engine = FakeDockerEngine(tmp_path / "docker.sock").start()
    monkeypatch.setenv("DOCKER_HOST", engine.docker_host)
    try:
        body = await (await toolkit_client.post("/api/symlink/services/detect")).get_json()
        sonarr = next(p for p in body["proposals"] if p["kind"] == "sonarr" and p["host"])
        assert sonarr["api_key"] in (None, "**********")
        applied = await toolkit_client.post("/api/symlink/services/apply", json={"container_id": sonarr["container_id"]})
        config = await applied.get_json()
        assert applied.status_code == 200, config
        assert config["sonarr_enabled"] and config["sonarr_host"] == sonarr["host"]
        assert config["sonarr_port"] == sonarr["port"]
        if sonarr["api_key_found"]:
            assert config["sonarr_api_key"] == MASK
    finally:
        engine.stop()


async def test_cancel_stops_a_running_scan_that_hangs_on_a_file(toolkit_client, media_env):
    """A link to a FIFO without writer blocks its reader forever, like a hung mount: the scan
    is running for sure when the cancel arrives, and must still stop promptly."""
    fifo = media_env.store / "hang.fifo"
    os.mkfifo(fifo)
    os.symlink(fifo, media_env.media / "Show 1" / "hang.nfo")
    _, body = await start(toolkit_client, ["Show 1"])
    status_url = f"/api/symlink/scan/status/{body['scan_id']}"

    async def running() -> bool:
        status = await (await toolkit_client.get(status_url)).get_json()
        return status["status"] == "running" and status["phase"] == "phase1"

    from toolkit.core.jobs import wait_until

    await wait_until(running, timeout=20, interval=0.1)
    response = await toolkit_client.post(f"/api/symlink/scan/cancel/{body['scan_id']}")
    assert response.status_code == 200
    final = await wait_scan(toolkit_client, body["scan_id"], timeout=20)
    assert final["status"] == "cancelled"
    history = await (await toolkit_client.get("/api/symlink/scans/history")).get_json()
    assert history[0]["status"] == "cancelled"
    assert all(os.path.islink(p) for p in media_env.problems)


async def test_a_scheduled_scan_is_recorded_like_a_started_one(toolkit_app, toolkit_client, media_env):
    from toolkit.web.app import current_toolkit

    schedules = await (await toolkit_client.get("/api/toolkit/schedules")).get_json()
    weekly = next(s for s in schedules if s["name"] == "symlink-weekly-dry-run")
    assert weekly["task"] == "symlink:scan" and weekly["enabled"] is False
    async with toolkit_app.app_context():
        job = await current_toolkit().runner.enqueue("symlink:scan", weekly["params"])  # what the scheduler does
    await wait_job(toolkit_app, job.id)
    history = await (await toolkit_client.get("/api/symlink/scans/history")).get_json()
    assert len(history) == 1 and history[0]["job_id"] == job.id
    assert history[0]["status"] == "completed" and history[0]["mode"] == "dry-run"
    assert history[0]["selected_paths"] == [str(media_env.media)]
    assert history[0]["problems_found"] == len(media_env.problems)


async def test_the_journal_outlives_the_history_rotation_and_restores(toolkit_app, toolkit_client, media_env):
    final = await _real_scan(toolkit_client, ["Show 1"])
    response = await toolkit_client.post(f"/api/symlink/scans/{final['scan_id']}/delete",
                                         json={"all": True, "token": final["deletion"]["token"]})
    await wait_job(toolkit_app, (await response.get_json())["job_id"])
    for _ in range(3):  # push the real scan out of the history
        _, body = await start(toolkit_client, ["Show 2"])
        await wait_scan(toolkit_client, body["scan_id"])
    assert (await toolkit_client.get(f"/api/symlink/scans/{final['scan_id']}")).status_code == 404
    journal = await (await toolkit_client.get("/api/symlink/deletions")).get_json()
    deleted = [p for p in media_env.problems if "Show 1" in str(p)]
    assert {d["path"] for d in journal["items"]} == {str(p) for p in deleted}
    page = await (await toolkit_client.get("/symlink?tab=dashboard", headers={"HX-Request": "true"})).get_data(as_text=True)
    assert all(str(p) in page for p in deleted)
    restored = await toolkit_client.post("/symlink/restore", form={"journal_id": str(journal["items"][0]["journal_id"])})
    assert "restored" in await restored.get_data(as_text=True)
    assert os.path.islink(journal["items"][0]["path"])
    after = await (await toolkit_client.get("/api/symlink/deletions")).get_json()
    assert after["total"] == journal["total"] - 1


@pytest.mark.skipif(not shutil.which("ffprobe"), reason="ffprobe not installed (apt-get install ffmpeg)")
async def test_full_depth_records_phase_two_verdicts(toolkit_client, media_env):
    """The generated 'media' files are 4 KiB of zeros behind a Matroska magic number:
    ffprobe finds no stream in them, so phase 2 calls each one CORRUPTED."""
    _, body = await start(toolkit_client, ["Show 1"], depth="full")
    final = await wait_scan(toolkit_client, body["scan_id"], timeout=60)
    healthy = [p for p in media_env.healthy if "Show 1" in str(p)]
    assert final["status"] == "completed"
    assert final["statistics"]["phase2_analyzed"] == len(healthy)
    details = await (await toolkit_client.get(f"/api/symlink/scans/{body['scan_id']}",
                                               query_string={"status": "CORRUPTED"})).get_json()
    assert {p["path"] for p in details["problems"]["items"]} == {str(p) for p in healthy}
    assert all(p["phase"] == 2 for p in details["problems"]["items"])


async def test_after_a_deletion_sonarr_rescans_and_searches_exactly_the_lost_episode(toolkit_app, toolkit_client, tmp_path, monkeypatch):
    fake = FakeArr("sonarr").start()
    try:
        lib = lost_episode(tmp_path, monkeypatch, fake)
        lost, series, episode = lib["lost"], lib["series"], lib["episode"]
        final, job = await scan_and_delete(toolkit_app, toolkit_client, fake, lib["media"])
        assert not os.path.lexists(lost)
        repair = job.result["repair"]
        assert repair["ok"] and repair["policy"] == "targeted", repair
        assert [(c.name, c.body.get("seriesId"), c.body.get("episodeIds")) for c in fake.commands] == [
            ("RescanSeries", series["id"], None), ("EpisodeSearch", None, [episode["id"]])]
        assert fake.violations == []
        # the outcome per item is shown on the page after the deletion
        html = await (await toolkit_client.get(f"/symlink/scans/{final['scan_id']}/deletion",
                                               headers={"HX-Request": "true"})).get_data(as_text=True)
        row = re.search(r'<table class="tk-table sl-repair-items">.*?</table>', html, re.S).group(0)
        assert "Sonarr · Show 1" in row
        assert "RescanSeries: completed" in row and f"EpisodeSearch ({episode['id']}): completed" in row
        # and the search's follow-up (grabbed, imported, repaired...) loads under it
        assert f'hx-get="/symlink/repairs?scan={final["scan_id"]}"' in html and job.result["following"] == 1
    finally:
        fake.stop()


async def test_a_deletion_job_whose_result_set_changed_deletes_nothing(toolkit_app, toolkit_client, media_env):
    """The job checks the confirmed set again when it starts (an item un-ignored between the
    confirmation and the job would otherwise be deleted unseen)."""
    from toolkit.web.app import current_toolkit

    final = await _real_scan(toolkit_client, [str(media_env.media)])
    async with toolkit_app.app_context():
        job = await current_toolkit().runner.enqueue("symlink:delete", {
            "scan_id": final["scan_id"], "token": "not-the-confirmed-set",
            "paths": final["selected_paths"]})
    done = await wait_job(toolkit_app, job.id)
    assert done.state == "failed" and "changed after the confirmation" in done.error
    assert all(os.path.islink(p) for p in media_env.problems)
