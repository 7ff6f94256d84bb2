"""The deletion dialog lists every problem the scan found that a deletion may act on, and
says why the others are not in it (once, a real-mode run showed 4 of its 6 problems)."""
from __future__ import annotations

import re

from sqlalchemy import create_engine, func, insert, select, update

from toolkit.plugins.symlink.history import SymlinkProblem, SymlinkScan
from toolkit.plugins.symlink.service import tasks
from toolkit.web.app import current_toolkit

from .conftest import wait_scan

HX = {"HX-Request": "true"}


async def _real_scan(client, media_env) -> str:
    start = await client.post("/api/symlink/scan/start", json={"paths": [str(media_env.media)], "mode": "real"})
    scan_id = (await start.get_json())["scan_id"]
    status = await wait_scan(client, scan_id)
    assert status["status"] == "completed", status
    return scan_id


async def _dialog(client, scan_id: str) -> str:
    return await (await client.get(f"/symlink/scans/{scan_id}/confirm?per_page=500", headers=HX)).get_data(as_text=True)


def _listed(dialog: str) -> list[str]:
    return re.findall(r'<tr data-path="([^"]+)">', dialog)


async def test_the_scan_is_finished_only_once_all_its_problems_are_saved(toolkit_app, toolkit_client,
                                                                         media_env, monkeypatch):
    """Every batch of problems is committed while the scan still says "running": the page
    cannot offer the deletion (nor build its dialog) on a part of them."""
    monkeypatch.setattr(tasks, "PROBLEM_BATCH", 2)  # the library's problems in several batches
    seen: list[tuple[str, int]] = []
    flush = tasks.ProblemWriter.flush

    def flush_and_look(writer) -> None:
        flush(writer)
        with writer.engine.connect() as connection:
            seen.append((connection.execute(select(SymlinkScan.status).where(
                SymlinkScan.id == writer.scan_id)).scalar_one(), connection.execute(
                select(func.count()).select_from(SymlinkProblem).where(
                    SymlinkProblem.scan_id == writer.scan_id)).scalar_one()))

    monkeypatch.setattr(tasks.ProblemWriter, "flush", flush_and_look)
    scan_id = await _real_scan(toolkit_client, media_env)
    found = len(media_env.problems)
    assert len({count for _status, count in seen}) >= 3  # several batches were written
    assert {status for status, _count in seen} == {"running"}, seen
    assert max(count for _status, count in seen) == found
    status = await (await toolkit_client.get(f"/api/symlink/scan/status/{scan_id}")).get_json()
    assert status["problems_found"] == found == status["deletion"]["count"]
    dialog = await _dialog(toolkit_client, scan_id)
    assert sorted(_listed(dialog)) == sorted(map(str, media_env.problems))
    assert f"Delete {found} symlinks?" in dialog and "not in this list" not in dialog


async def test_no_dialog_while_the_scan_has_fewer_problems_saved_than_found(toolkit_app, toolkit_client, media_env):
    """A scan that says "completed" with some of its problems not in the database (a writer
    breaking the order above) offers no deletion: the list would be short."""
    scan_id = await _real_scan(toolkit_client, media_env)
    found = len(media_env.problems)
    async with toolkit_app.app_context():
        async with current_toolkit().sessions() as session:
            await session.execute(update(SymlinkScan).where(SymlinkScan.id == scan_id)
                                  .values(problems_found=found + 2))
            await session.commit()
    dialog = await _dialog(toolkit_client, scan_id)
    assert "still being saved" in dialog and 'name="token"' not in dialog and not _listed(dialog)
    page = await (await toolkit_client.get(f"/symlink/scans/{scan_id}/progress", headers=HX)).get_data(as_text=True)
    assert "Review and delete" not in page and "still being saved" in page
    token = (await (await toolkit_client.get(f"/api/symlink/scan/status/{scan_id}")).get_json())["deletion"]["token"]
    refused = await toolkit_client.post(f"/api/symlink/scans/{scan_id}/delete", json={"all": True, "token": token})
    assert refused.status_code == 409 and "still being saved" in (await refused.get_json())["error"]["message"]


async def test_the_dialog_says_which_problems_it_leaves_out(toolkit_app, toolkit_client, media_env):
    """Problems never deleted (UNKNOWN: a mount did not answer; ignored paths) are not in the
    list, and the dialog says how many, so listed + left out = what the scan found."""
    scan_id = await _real_scan(toolkit_client, media_env)
    problems = sorted(map(str, media_env.problems))
    async with toolkit_app.app_context():
        tk = current_toolkit()
        engine = create_engine(tk.config.database_url.replace("+aiosqlite", ""))
        with engine.begin() as connection:  # what a flaky mount leaves: one link it could not check
            connection.execute(insert(SymlinkProblem).values(
                scan_id=scan_id, path=str(media_env.media / "Show 1" / "late.mkv"), target="/mnt/x",
                status="UNKNOWN", phase=1, size=0, reason="deadline", ignored=False))
            connection.execute(update(SymlinkScan).where(SymlinkScan.id == scan_id)
                               .values(problems_found=SymlinkScan.problems_found + 1))
        engine.dispose()
    items = (await (await toolkit_client.get(f"/api/symlink/scans/{scan_id}")).get_json())["problems"]["items"]
    ignored = next(p for p in items if p["path"] == problems[0])
    assert (await toolkit_client.post("/api/symlink/ignores", json={"problem_id": ignored["id"]})).status_code in (200, 201)
    dialog = await _dialog(toolkit_client, scan_id)
    listed = _listed(dialog)
    assert sorted(listed) == problems[1:]
    assert f"Delete {len(listed)} symlinks?" in dialog
    text = re.sub(r"\s+", " ", dialog)
    assert "1 other problem of this scan is not in this list: UNKNOWN or ERROR" in text
    assert "1 ignored path is kept." in text
    found = (await (await toolkit_client.get(f"/api/symlink/scan/status/{scan_id}")).get_json())["problems_found"]
    assert len(listed) + 1 + 1 == found
