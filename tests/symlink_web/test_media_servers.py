"""The web's deletion job tells the configured media servers which folders changed."""
from __future__ import annotations

import os

from fakes.mediaserver import FakeMediaServer

from .conftest import wait_job, wait_scan


async def test_the_deletion_job_and_a_restore_ask_jellyfin_to_rescan_exactly_the_folders_they_changed(
        toolkit_app, toolkit_client, media_env):
    fake = FakeMediaServer("jellyfin").start()
    try:
        saved = await toolkit_client.post("/api/toolkit/settings/jellyfin", json={
            "url": fake.url, "api_key": fake.token,
            "path_mappings": [{"toolkit_prefix": str(media_env.media), "arr_prefix": "/media"}]})
        assert saved.status_code == 200, await saved.get_json()
        started = await (await toolkit_client.post("/api/symlink/scan/start", json={
            "paths": [str(media_env.media)], "mode": "real", "verification_depth": "basic"})).get_json()
        final = await wait_scan(toolkit_client, started["scan_id"])
        response = await toolkit_client.post(f"/api/symlink/scans/{final['scan_id']}/delete", json={
            "all": True, "token": final["deletion"]["token"], "override": True})
        job = await wait_job(toolkit_app, (await response.get_json())["job_id"])
        assert job.state == "completed" and not any(os.path.lexists(p) for p in media_env.problems)
        folders = sorted({"/media/" + str(p.parent.relative_to(media_env.media)) for p in media_env.problems})
        assert fake.refreshes() == [[{"Path": folder, "UpdateType": "Modified"} for folder in folders]]
        assert job.result["media_servers"]["ok"] and job.result["media_servers"]["servers"][0]["requests"] == 1
        # a restore is told too, as created
        one = next(p for p in media_env.problems)
        entry = next(i for i in (await (await toolkit_client.get(f"/api/symlink/scans/{final['scan_id']}")).get_json())
                     ["problems"]["items"] if i["path"] == str(one))
        restored = await (await toolkit_client.post("/api/symlink/restore",
                                                    json={"journal_ids": [entry["journal_id"]]})).get_json()
        assert restored["restored"] == 1 and restored["media_servers"]["ok"]
        assert fake.refreshes()[1] == [{"Path": "/media/" + str(one.parent.relative_to(media_env.media)),
                                        "UpdateType": "Created"}]
        assert fake.violations == []
    finally:
        fake.stop()
