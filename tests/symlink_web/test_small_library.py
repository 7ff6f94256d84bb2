"""The web scan job on a library whose only link is broken: an empty local folder that lost
the target after the link was made is a lost release (deleted after confirmation, journaled);
one untouched since the link was made looks like an unmounted mount point (nothing deletable)."""
from __future__ import annotations

import os
import shutil
import sqlite3
import time

from .conftest import wait_job, wait_scan


def one_link_library(tmp_path):
    media, store = tmp_path / "media", tmp_path / "store"
    target = store / "Movie (2020)" / "movie.mkv"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\x1a" * 4096)
    link = media / "Movie (2020)" / "Movie (2020).mkv"
    link.parent.mkdir(parents=True)
    os.symlink(target, link)
    return media, store, link


async def real_scan(client, media):
    response = await client.post("/api/symlink/scan/start",
                                 json={"paths": [str(media)], "mode": "real", "verification_depth": "basic"})
    body = await response.get_json()
    assert response.status_code in (200, 202), body
    return await wait_scan(client, body["scan_id"])


async def test_the_only_broken_link_is_deleted_after_confirmation(toolkit_app, toolkit_client, toolkit_config,
                                                                    tmp_path, monkeypatch):
    media, store, link = one_link_library(tmp_path)
    time.sleep(0.05)  # directory times move in clock ticks: the removal comes after the link
    shutil.rmtree(store / "Movie (2020)")  # the store is empty now
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(media))

    final = await real_scan(toolkit_client, media)

    assert final["status"] == "completed" and not final["mount_down"], final
    deletion = final["deletion"]
    assert deletion["allowed"] and deletion["blocked_reason"] is None and deletion["count"] == 1
    response = await toolkit_client.post(f"/api/symlink/scans/{final['scan_id']}/delete",
                                         json={"all": True, "token": deletion["token"]})
    body = await response.get_json()
    assert response.status_code == 202, body
    job = await wait_job(toolkit_app, body["job_id"])
    assert job.state == "completed" and job.result["deleted"] == 1
    assert not os.path.lexists(link)
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        assert db.execute("SELECT path, state FROM symlink_deletions").fetchall() == [(str(link), "deleted")]


async def test_an_empty_folder_untouched_since_the_link_refuses_the_deletion(toolkit_client, tmp_path, monkeypatch):
    media, store, link = one_link_library(tmp_path)
    shutil.rmtree(store / "Movie (2020)")
    past = time.time() - 3600
    os.utime(store, (past, past))  # as the directory under an unmounted mount point
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(media))

    final = await real_scan(toolkit_client, media)

    assert final["mount_down"] and not final["deletion"]["allowed"]
    assert "a mount was down" in final["deletion"]["blocked_reason"]
    response = await toolkit_client.post(f"/api/symlink/scans/{final['scan_id']}/delete",
                                         json={"all": True, "token": final["deletion"]["token"]})
    assert response.status_code == 409
    assert os.path.islink(link)
