"""Scheduled scans end to end: the real app (lifespan, job runner, scheduler, SQLite file),
a generated library of real symlinks, ``Scheduler.tick()`` firing the schedule, and
notifications delivered by Apprise to a webhook on 127.0.0.1."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from fakes.library import build_library
from toolkit.testing import toolkit_of_app

from .conftest import run_schedule, save_schedule


async def configure(client, inbox, **symlink_settings) -> None:
    response = await client.post("/api/toolkit/settings/notifications", json={"urls": inbox.url})
    assert response.status_code == 200
    if symlink_settings:
        response = await client.post("/api/symlink/config", json=symlink_settings)
        assert response.status_code == 200, await response.get_json()


def future(iso: str) -> bool:
    return datetime.fromisoformat(iso) > datetime.now(timezone.utc)


async def test_a_nightly_dry_run_scans_on_time_reports_and_deletes_nothing(toolkit_app, toolkit_client, media_env, inbox):
    await configure(toolkit_client, inbox)
    saved = await save_schedule(toolkit_client, name="nightly", time="02:30")
    assert saved["description"] == "daily at 02:30" and saved["cron"] == "30 2 * * *"
    assert future(saved["next_run_at"])
    tk = toolkit_of_app(toolkit_app)

    job, scan, deletion = await run_schedule(tk, "nightly")

    assert job.state == "completed" and deletion is None
    assert scan["scheduled"] and scan["schedule_name"] == "nightly" and scan["mode"] == "dry-run"
    assert scan["selected_paths"] == [str(media_env.media)]  # no folder chosen: all of it
    assert scan["problems_found"] == len(media_env.problems) and scan["auto_delete"] is None
    assert all(os.path.islink(p) for p in media_env.problems)  # a dry run never deletes
    (listed,) = [s for s in await (await toolkit_client.get("/api/symlink/schedules")).get_json()
                 if s["name"] == "nightly"]
    assert listed["last_scan"]["scan_id"] == scan["scan_id"] and listed["last_job_state"] == "completed"
    assert future(listed["next_run_at"])  # the next night, not now again
    (message,) = inbox.wait_for(1)
    assert message["type"] == "warning"
    assert message["title"] == f"Symlink: {len(media_env.problems)} problems found"
    counts, where, link = message["message"].splitlines()
    assert counts == (f"BROKEN {len(media_env.broken)} · SMALL_FILE {len(media_env.small)} "
                      f"(of {scan['statistics']['total_analyzed']} links)")
    assert where == f"{media_env.media} (scheduled 'nightly', dry run)"
    assert link == f"http://localhost/symlink?tab=scanner&scan={scan['scan_id']}"


async def test_a_healthy_library_sends_nothing(toolkit_app, toolkit_client, tmp_path, monkeypatch, inbox):
    healthy = build_library(tmp_path / "healthy", broken_every=1000, small_every=1000)
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(healthy.media))
    await configure(toolkit_client, inbox)
    await save_schedule(toolkit_client)
    job, scan, _ = await run_schedule(toolkit_of_app(toolkit_app), "nightly")
    assert job.state == "completed" and scan["problems_found"] == 0
    assert inbox.messages == []


async def test_real_mode_with_the_opt_in_deletes_then_reports_it(toolkit_app, toolkit_client, media_env, inbox):
    await configure(toolkit_client, inbox, scheduled_deletions=True)
    await save_schedule(toolkit_client, name="clean-up", frequency="weekly", weekday=0, time="04:00",
                        mode="real", paths=["Show 1", "Show 2", "Show 3"])
    job, scan, deletion = await run_schedule(toolkit_of_app(toolkit_app), "clean-up")

    assert scan["auto_delete"]["outcome"] == "started" and scan["auto_delete"]["count"] == len(media_env.problems)
    assert deletion.state == "completed" and deletion.result["deleted"] == len(media_env.problems)
    assert not any(os.path.lexists(p) for p in media_env.problems)
    assert all(os.path.islink(p) for p in media_env.healthy + media_env.sidecars)
    journal = await (await toolkit_client.get("/api/symlink/deletions")).get_json()
    assert journal["total"] == len(media_env.problems)  # journaled, so restorable
    # each notification is sent from its own thread: they may arrive in either order
    problems, deleted = sorted(inbox.wait_for(2), key=lambda m: "links deleted" in m["title"])
    assert problems["title"].endswith("problems found") and "(scheduled 'clean-up', real mode)" in problems["message"]
    assert deleted["type"] == "info"
    assert deleted["title"] == f"Symlink: {len(media_env.problems)} links deleted"
    assert deleted["message"].splitlines() == [
        "0 skipped · 0 failed", "Repair: Sonarr/Radarr were not asked (off or not configured)",
        f"http://localhost/symlink?tab=scanner&scan={scan['scan_id']}"]


async def test_real_mode_needs_the_opt_in_to_be_saved_and_to_delete(toolkit_app, toolkit_client, media_env, inbox):
    refused = await toolkit_client.post("/api/symlink/schedules", json={
        "name": "clean-up", "frequency": "daily", "time": "03:00", "mode": "real"})
    assert refused.status_code == 422
    assert "opt-in" in (await refused.get_json())["error"]["fields"]["mode"]
    # saved while opted in, then the user switched the opt-in off: the schedule only reports
    await configure(toolkit_client, inbox, scheduled_deletions=True)
    await save_schedule(toolkit_client, name="clean-up", mode="real")
    await configure(toolkit_client, inbox, scheduled_deletions=False)

    job, scan, deletion = await run_schedule(toolkit_of_app(toolkit_app), "clean-up")

    assert job.state == "completed" and deletion is None
    assert scan["auto_delete"]["outcome"] == "off" and "Settings" in scan["auto_delete"]["reason"]
    assert all(os.path.islink(p) for p in media_env.problems)
    (message,) = inbox.wait_for(1)
    assert message["title"].endswith("problems found")  # no guard alarm for a choice the user made


async def test_too_many_deletions_stop_the_automatic_deletion(toolkit_app, toolkit_client, media_env, inbox):
    await configure(toolkit_client, inbox, scheduled_deletions=True, max_deletions=3)
    await save_schedule(toolkit_client, name="clean-up", mode="real")

    job, scan, deletion = await run_schedule(toolkit_of_app(toolkit_app), "clean-up")

    decision = scan["auto_delete"]
    assert job.state == "completed" and deletion is None and decision["outcome"] == "guard"
    assert decision["reason"] == (f"mass-deletion limit: {len(media_env.problems)} deletions exceed "
                                  "the limit of 3: nothing was deleted")
    assert all(os.path.islink(p) for p in media_env.problems)
    assert (await (await toolkit_client.get("/api/symlink/deletions")).get_json())["total"] == 0
    guard = next(m for m in inbox.wait_for(2) if m["title"] == "Symlink: automatic deletion stopped")
    assert guard["type"] == "warning" and guard["title"] == "Symlink: automatic deletion stopped"
    assert guard["message"].splitlines()[0] == decision["reason"]
    page = await (await toolkit_client.get(f"/symlink?tab=scanner&scan={scan['scan_id']}")).get_data(as_text=True)
    assert "Automatic deletion stopped: mass-deletion limit" in page


async def test_a_mount_that_looks_unmounted_stops_the_automatic_deletion(toolkit_app, toolkit_client, tmp_path,
                                                                          monkeypatch, inbox):
    """Half the library points into an empty folder that is not a mount point (how an
    rclone mount looks when it is not mounted): those links are UNKNOWN, and although the
    other half has real BROKEN links, nothing is deleted."""
    library = build_library(tmp_path / "lib")
    unmounted = tmp_path / "zurg"
    unmounted.mkdir()  # empty: the mount is not there
    for index in range(3):
        os.symlink(unmounted / "__all__" / f"Movie {index}.mkv", library.media / "Show 1" / f"Movie {index}.mkv")
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(library.media))
    await configure(toolkit_client, inbox, scheduled_deletions=True)
    await save_schedule(toolkit_client, name="clean-up", mode="real")

    job, scan, deletion = await run_schedule(toolkit_of_app(toolkit_app), "clean-up")

    assert deletion is None and scan["auto_delete"]["outcome"] == "guard"
    # the engine may call the empty root a mount that is down, or only its links UNKNOWN
    assert scan["auto_delete"]["reason"] in (
        "a mount was down during the scan: nothing was deleted",
        "3 link(s) could not be checked (UNKNOWN: their mount was down or did not answer): nothing was deleted")
    assert all(os.path.islink(p) for p in library.problems)
    guard = next(m for m in inbox.wait_for(2) if m["title"] == "Symlink: automatic deletion stopped")
    assert guard["message"].splitlines()[0] == scan["auto_delete"]["reason"]


async def test_a_schedule_whose_folder_disappeared_fails_and_says_so(toolkit_app, toolkit_client, media_env, inbox):
    await configure(toolkit_client, inbox)
    await save_schedule(toolkit_client, paths=["Show 2"])
    for link in (media_env.media / "Show 2" / "Season 1").iterdir():
        link.unlink()
    (media_env.media / "Show 2" / "Season 1").rmdir()
    (media_env.media / "Show 2" / "tvshow.nfo").unlink()
    (media_env.media / "Show 2").rmdir()

    job, scan, _ = await run_schedule(toolkit_of_app(toolkit_app), "nightly")

    assert job.state == "failed" and scan is None
    (message,) = inbox.wait_for(1)
    assert message["type"] == "failure" and message["title"] == "Symlink: scheduled scan failed"
    assert message["message"].splitlines()[0] == (
        f"invalid scan paths: '{media_env.media / 'Show 2'}' is not an existing folder")
    listed = (await (await toolkit_client.get("/api/symlink/schedules")).get_json())
    assert next(s for s in listed if s["name"] == "nightly")["last_job_state"] == "failed"


async def test_event_switches_silence_an_event(toolkit_app, toolkit_client, media_env, inbox):
    await configure(toolkit_client, inbox)
    await toolkit_client.post("/api/toolkit/settings/notifications", json={"on_problems": False})
    await save_schedule(toolkit_client)
    job, _, _ = await run_schedule(toolkit_of_app(toolkit_app), "nightly")
    assert job.state == "completed" and inbox.messages == []


@pytest.mark.fuse
async def test_a_dead_rclone_mount_stops_the_automatic_deletion(toolkit_app, toolkit_client, tmp_path, monkeypatch,
                                                                 inbox, rclone_mount):
    """The targets live in a real rclone mount whose process died (every stat answers
    ENOTCONN): the links into it are UNKNOWN, not BROKEN, and even the genuinely broken local
    link is kept, because a scan that could not see everything deletes nothing."""
    (rclone_mount.remote_root / "Movie A.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 4092)
    media = tmp_path / "media" / "Movies"
    media.mkdir(parents=True)
    os.symlink(rclone_mount.mount_point / "Movie A.mkv", media / "Movie A.mkv")
    os.symlink(rclone_mount.mount_point / "Movie B.mkv", media / "Movie B.mkv")
    broken = media / "Movie C.mkv"
    os.symlink(tmp_path / "nowhere" / "Movie C.mkv", broken)
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(media.parent))
    await configure(toolkit_client, inbox, scheduled_deletions=True)
    await save_schedule(toolkit_client, name="clean-up", mode="real")
    rclone_mount.kill()

    job, scan, deletion = await run_schedule(toolkit_of_app(toolkit_app), "clean-up")

    assert deletion is None and scan["mount_down"] is True
    assert scan["auto_delete"] == {"outcome": "guard", "count": 1, "job_id": None,
                                   "reason": "a mount was down during the scan: nothing was deleted"}
    assert os.path.islink(broken) and os.path.islink(media / "Movie A.mkv")
    guard = next(m for m in inbox.wait_for(2) if m["title"] == "Symlink: automatic deletion stopped")
    assert guard["message"].splitlines()[0] == "a mount was down during the scan: nothing was deleted"


async def test_an_unattended_deletion_says_what_plex_was_asked_and_why_its_trash_was_left(
        toolkit_app, toolkit_client, media_env, inbox):
    from fakes.mediaserver import FakeMediaServer

    plex = FakeMediaServer("plex", sections={"1": ["/media"]}, trash={"1": 40}).start()
    try:
        saved = await toolkit_client.post("/api/toolkit/settings/plex", json={
            "url": plex.url, "token": plex.token, "empty_trash": True, "empty_trash_max": 5,
            "path_mappings": [{"toolkit_prefix": str(media_env.media), "arr_prefix": "/media"}]})
        assert saved.status_code == 200, await saved.get_json()
        await configure(toolkit_client, inbox, scheduled_deletions=True)
        await save_schedule(toolkit_client, name="clean-up", mode="real")
        job, scan, deletion = await run_schedule(toolkit_of_app(toolkit_app), "clean-up")
        assert deletion.state == "completed" and deletion.result["deleted"] == len(media_env.problems)
        folders = {p.parent for p in media_env.problems}
        deleted = next(m for m in inbox.wait_for(2) if "links deleted" in m["title"])
        assert deleted["message"].splitlines()[2] == (
            f"Plex: asked to scan {len(folders)} folder(s); trash not emptied: 40 items would be removed from "
            "the trash, more than the limit of 5: not emptied (check the mounts, then empty it in Plex)")
        assert plex.trash == {"1": 40} and plex.violations == []
    finally:
        plex.stop()


async def test_in_french_the_notifications_and_the_page_say_why_in_french(toolkit_app, toolkit_client, media_env,
                                                                          inbox):
    """The language setting is French: the scheduled scan's notifications and the page read
    French, the engine's and the guard's reasons included; the stored decision stays English
    (the API's contract)."""
    assert (await toolkit_client.post("/api/toolkit/settings/interface", json={"language": "fr"})).status_code == 200
    await configure(toolkit_client, inbox, scheduled_deletions=True, max_deletions=3)
    await save_schedule(toolkit_client, name="clean-up", mode="real")

    job, scan, deletion = await run_schedule(toolkit_of_app(toolkit_app), "clean-up")

    count = len(media_env.problems)
    assert scan["auto_delete"]["reason"] == f"mass-deletion limit: {count} deletions exceed the limit of 3: nothing was deleted"
    messages = {m["title"]: m for m in inbox.wait_for(2)}
    assert set(messages) == {f"Symlink : {count} problèmes trouvés", "Symlink : suppression automatique arrêtée"}
    assert messages["Symlink : suppression automatique arrêtée"]["message"].splitlines()[0] == (
        f"limite de suppression en masse : {count} suppressions dépassent la limite de 3 : rien n’a été supprimé")
    page = await (await toolkit_client.get(f"/symlink?tab=scanner&scan={scan['scan_id']}",
                                           headers={"Accept-Language": "en"})).get_data(as_text=True)
    assert ("Suppression automatique arrêtée : limite de suppression en masse : "
            f"{count} suppressions dépassent la limite de 3 : rien n’a été supprimé.") in page
