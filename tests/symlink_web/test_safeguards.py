"""Safeguards that hold however a task is started: the core schedules API, the job runner
directly (as another task or a careless script would), or a schedule row saved broken."""
from __future__ import annotations

import os

import pytest

from sqlalchemy import insert, text

from toolkit.core.models import ScheduleRow, utcnow

from .conftest import wait_job, wait_scan


async def _scan(client, paths, mode):
    response = await client.post("/api/symlink/scan/start",
                                 json={"paths": paths, "mode": mode, "verification_depth": "basic"})
    assert response.status_code == 202, await response.get_json()
    return await wait_scan(client, (await response.get_json())["scan_id"])


async def _enqueue(app, task, params):
    from toolkit.web.app import current_toolkit

    async with app.app_context():
        return await current_toolkit().runner.enqueue(task, params)


async def test_the_deletion_task_cannot_be_scheduled(toolkit_client, media_env):
    dry = await _scan(toolkit_client, [str(media_env.media)], "dry-run")
    response = await toolkit_client.post("/api/toolkit/schedules", json={
        "name": "sneaky", "task": "symlink:delete", "cron": "* * * * *",
        "params": {"scan_id": dry["scan_id"], "token": dry["deletion"]["token"]}})
    body = await response.get_json()
    assert response.status_code == 422
    assert body["error"]["fields"] == {"task": "symlink:delete may not be scheduled"}
    names = [s["name"] for s in await (await toolkit_client.get("/api/toolkit/schedules")).get_json()]
    assert "sneaky" not in names


async def test_a_deletion_of_a_dry_run_never_runs_even_with_its_token(toolkit_app, toolkit_client, media_env):
    dry = await _scan(toolkit_client, [str(media_env.media)], "dry-run")
    job = await _enqueue(toolkit_app, "symlink:delete",
                         {"scan_id": dry["scan_id"], "token": dry["deletion"]["token"]})
    done = await wait_job(toolkit_app, job.id)
    assert done.state == "failed" and "this was a dry run" in done.error
    assert all(os.path.islink(p) for p in media_env.problems)


async def test_a_deletion_without_a_token_is_refused_when_enqueued(toolkit_app, toolkit_client, media_env):
    from toolkit.core.jobs import InvalidParams

    real = await _scan(toolkit_client, [str(media_env.media)], "real")
    try:
        await _enqueue(toolkit_app, "symlink:delete", {"scan_id": real["scan_id"]})
    except InvalidParams as exc:
        assert exc.fields == {"params.token": "Field required"}
    else:
        raise AssertionError("a deletion without a confirmation token was enqueued")
    assert all(os.path.islink(p) for p in media_env.problems)


async def test_a_mass_deletion_job_without_the_override_deletes_nothing(toolkit_app, toolkit_client, media_env, monkeypatch):
    monkeypatch.setenv("TOOLKIT_SYMLINK__MAX_DELETIONS", "1")
    real = await _scan(toolkit_client, [str(media_env.media)], "real")
    job = await _enqueue(toolkit_app, "symlink:delete",
                         {"scan_id": real["scan_id"], "token": real["deletion"]["token"]})
    done = await wait_job(toolkit_app, job.id)
    assert done.state == "failed" and "exceed the limit of 1" in done.error
    assert all(os.path.islink(p) for p in media_env.problems)


async def test_a_scan_never_leaves_the_media_path_whatever_its_parameters(toolkit_app, toolkit_client, media_env, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(tmp_path / "gone.mkv", elsewhere / "outside.mkv")
    done = await _scan(toolkit_client, [str(media_env.media)], "dry-run")
    # an existing scan's id with other folders: the scan's own row decides, and it is finished
    reused = await wait_job(toolkit_app, (await _enqueue(toolkit_app, "symlink:scan", {
        "scan_id": done["scan_id"], "paths": [str(elsewhere)]})).id)
    assert reused.state == "failed" and "is not a queued scan" in reused.error
    # a scan recorded by a schedule: folders outside the media path are refused when it runs
    scheduled = await wait_job(toolkit_app, (await _enqueue(toolkit_app, "symlink:scan", {
        "paths": [str(elsewhere)], "mode": "real"})).id)
    assert scheduled.state == "failed" and "not under the media path" in scheduled.error
    assert os.path.islink(elsewhere / "outside.mkv")
    history = await (await toolkit_client.get("/api/symlink/scans/history")).get_json()
    assert [h["selected_paths"] for h in history] == [[str(media_env.media)]]


async def test_a_queued_scan_whose_folder_became_a_link_does_not_run(toolkit_app, toolkit_client, media_env, tmp_path):
    from toolkit.web.app import current_toolkit
    from toolkit.plugins.symlink.service import scans

    async with toolkit_app.app_context():
        tk = current_toolkit()
        scan = await scans._insert_scan(tk, [str(media_env.media / "Show 1")], "real", "basic")
    other = tmp_path / "other"
    other.mkdir()
    (media_env.media / "Show 1").rename(tmp_path / "moved")
    os.symlink(other, media_env.media / "Show 1")
    job = await wait_job(toolkit_app, (await _enqueue(toolkit_app, "symlink:scan", {"scan_id": scan.id})).id)
    assert job.state == "failed" and "leads outside the media path through a symlink" in job.error
    status = await (await toolkit_client.get(f"/api/symlink/scan/status/{scan.id}")).get_json()
    assert status["status"] == "error" and "through a symlink" in status["error"]


async def test_one_broken_schedule_never_stops_the_others(toolkit_app, toolkit_client, media_env):
    from toolkit.web.app import current_toolkit

    async with toolkit_app.app_context():
        tk = current_toolkit()
        async with tk.sessions() as session:  # saved by an older version, unvalidated
            await session.execute(insert(ScheduleRow), [
                {"name": "broken", "task": "symlink:scan", "cron": "* * * * *", "params": "abc",
                 "enabled": True, "next_run_at": utcnow(), "updated_at": utcnow()},
                {"name": "deleter", "task": "symlink:delete", "cron": "* * * * *",
                 "params": {"scan_id": "x", "token": "y"}, "enabled": True,
                 "next_run_at": utcnow(), "updated_at": utcnow()}])
            await session.commit()
            await session.execute(text(  # and one whose JSON cannot even be read
                "INSERT INTO toolkit_schedules (name, task, cron, params, enabled, next_run_at, updated_at)"
                " VALUES ('corrupt', 'symlink:scan', '* * * * *', '{oops', 1, :now, :now)"),
                {"now": utcnow().isoformat(sep=" ")})
            await session.commit()
        good = await tk.scheduler.save("good", task="symlink:scan", cron="* * * * *",
                                       params={"mode": "dry-run"})
        assert (await tk.scheduler.get("corrupt")).last_outcome.startswith("error: its parameters cannot be read")
        fired = await tk.scheduler.tick(now=good.next_run_at)
        views = {s.name: s for s in await tk.scheduler.list()}
    assert views["good"].last_outcome == "started" and views["good"].last_job_id in fired
    assert views["broken"].last_outcome.startswith("error:") and views["broken"].next_run_at is None
    assert views["deleter"].last_outcome == "error: task: symlink:delete may not be scheduled"
    assert views["deleter"].next_run_at is None
    assert views["corrupt"].last_outcome.startswith("error:") and views["corrupt"].next_run_at is None
    page = await toolkit_client.get("/api/symlink/schedules")
    assert page.status_code == 200
    core = await toolkit_client.get("/api/toolkit/schedules")
    assert core.status_code == 200
    for job_id in fired:  # other plugins' default schedules may have been due too
        await wait_job(toolkit_app, job_id)


async def test_schedules_are_validated_when_saved(toolkit_client, media_env):
    cases = [
        ({"task": "symlink:scan", "cron": "0 0 31 2 *"}, "cron", "does not fire within a year"),
        ({"task": "symlink:scan", "cron": "0 0 * * * *"}, "cron", "five fields"),
        ({"task": "symlink:scan", "cron": "daily", "params": "abc"}, "body.params", "must be an object"),
        ({"task": "symlink:scan", "cron": "daily", "params": {"mode": "wipe"}}, "params.mode", "must be one of 'dry-run', 'real'"),
        ({"task": "symlink:scan", "cron": "daily", "params": {"rm": True}}, "params.rm", "not a known field"),
        ({"task": "nope", "cron": "daily"}, "task", "unknown task"),
    ]
    for body, field, message in cases:
        response = await toolkit_client.post("/api/toolkit/schedules", json={"name": "x", **body})
        assert response.status_code == 422, body
        assert message in (await response.get_json())["error"]["fields"][field], body
    assert "x" not in [s["name"] for s in await (await toolkit_client.get("/api/toolkit/schedules")).get_json()]


@pytest.mark.parametrize(("url", "form"), [
    (f"/symlink/problems/{2**63}/ignore", {}),
    (f"/symlink/problems/{2**63}/unignore", {}),
    ("/symlink/restore", {"journal_id": str(2**63)}),
    ("/symlink/scans/x/delete", {"ids": str(2**63)}),
])
async def test_the_page_refuses_ids_out_of_range_without_a_server_error(toolkit_client, url, form):
    response = await toolkit_client.post(url, form=form)
    assert response.status_code < 500
    assert "Internal error" not in await response.get_data(as_text=True)
