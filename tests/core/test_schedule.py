"""Cron schedules: validation, firing, coalescing, no double runs, enable/disable."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from toolkit.core import db, migrate
from toolkit.core.hookspecs import Schedule, Task
from toolkit.core.jobs import InProcessJobRunner
from toolkit.core.models import ScheduleRow, utcnow
from toolkit.core.schedule import ScheduleError, Scheduler, next_run


async def tick_task(ctx, label: str = ""):
    await asyncio.sleep(0.05)
    return {"label": label}


async def hold_task(ctx):
    # holds the shared resource until cancelled, however slow the machine is
    while not ctx.should_abort():
        await asyncio.sleep(0.02)


TASKS = {"t:tick": Task("t:tick", tick_task, exclusive_key=lambda p: "the-one-resource",
                        schedulable=True),
         "t:hold": Task("t:hold", hold_task, exclusive_key=lambda p: "the-one-resource")}


@pytest.fixture
async def parts(toolkit_config):
    await asyncio.to_thread(migrate.upgrade_heads, toolkit_config.database_url, [])
    engine = db.create_engine_async(toolkit_config.database_url)
    sessions = db.session_factory(engine)
    runner = InProcessJobRunner(sessions, TASKS)
    await runner.start()
    scheduler = Scheduler(sessions, runner, tasks=TASKS, defaults={
        "nightly": Schedule("nightly", "t:tick", "daily", {"label": "n"}, enabled=False)})
    await scheduler.sync_defaults()
    yield sessions, runner, scheduler
    await runner.stop()
    await engine.dispose()


async def _make_due(sessions, name: str, minutes_ago: int) -> None:
    async with sessions() as s:
        await s.execute(update(ScheduleRow).where(ScheduleRow.name == name)
                        .values(next_run_at=utcnow() - timedelta(minutes=minutes_ago)))
        await s.commit()


async def test_validation(parts):
    _, _, scheduler = parts
    with pytest.raises(ScheduleError) as info:
        await scheduler.save("x", task="t:nope", cron="every day")
    assert set(info.value.fields) == {"task", "cron"}
    assert await scheduler.get("x") is None


async def test_defaults_are_created_once_and_user_edits_are_kept(parts):
    _, _, scheduler = parts
    nightly = await scheduler.get("nightly")
    assert (nightly.cron, nightly.enabled, nightly.next_run_at) == ("0 3 * * *", False, None)
    await scheduler.save("nightly", task="t:tick", cron="30 1 * * *", enabled=True)
    await scheduler.sync_defaults()
    assert (await scheduler.get("nightly")).cron == "30 1 * * *"


async def test_enable_sets_next_run_and_disable_clears_it(parts):
    _, _, scheduler = parts
    on = await scheduler.set_enabled("nightly", True)
    assert on.next_run_at is not None and on.next_run_at > utcnow()
    assert on.next_run_at == next_run("0 3 * * *", on.next_run_at - timedelta(days=1, seconds=1)) \
        or on.next_run_at - utcnow() <= timedelta(days=1)
    off = await scheduler.set_enabled("nightly", False)
    assert off.next_run_at is None
    assert await scheduler.tick(utcnow() + timedelta(days=3)) == []


async def test_missed_runs_are_coalesced_into_one(parts):
    sessions, runner, scheduler = parts
    await scheduler.save("every5", task="t:tick", cron="*/5 * * * *", params={"label": "m"})
    await _make_due(sessions, "every5", minutes_ago=60 * 24)  # a day of missed runs
    fired = await scheduler.tick()
    assert len(fired) == 1
    job = await runner.wait(fired[0], 5)
    assert (job.task, job.result) == ("t:tick", {"label": "m"})
    view = await scheduler.get("every5")
    assert view.next_run_at > utcnow() and view.last_job_id == fired[0]
    assert view.last_outcome == "started"
    assert await scheduler.tick() == []  # nothing more until the next slot


async def test_two_schedulers_never_fire_the_same_run_twice(parts):
    sessions, runner, scheduler = parts
    other = Scheduler(sessions, runner, tasks=set(TASKS))
    await scheduler.save("every5", task="t:tick", cron="*/5 * * * *")
    await _make_due(sessions, "every5", minutes_ago=1)
    a, b = await asyncio.gather(scheduler.tick(), other.tick())
    assert len(a) + len(b) == 1


async def test_a_run_refused_by_the_runner_is_recorded(parts):
    sessions, runner, scheduler = parts
    busy = await runner.enqueue("t:hold", {})
    await scheduler.save("every5", task="t:tick", cron="*/5 * * * *")
    await _make_due(sessions, "every5", minutes_ago=1)
    assert await scheduler.tick() == []
    view = await scheduler.get("every5")
    assert view.last_outcome.startswith("skipped: already running") and busy.id in view.last_outcome
    await runner.cancel(busy.id)


async def test_schedules_api(toolkit_app_factory):
    from .plugin_kit import make_plugin

    plugin = make_plugin("kit", toolkit_register_tasks=lambda: Task("t:tick", tick_task,
                                                                           schedulable=True))
    async with toolkit_app_factory([("kit", plugin)], entry_points=False) as app:
        client = app.test_client()
        bad = await client.post("/api/toolkit/schedules",
                                json={"name": "x", "task": "t:tick", "cron": "nope"})
        assert bad.status_code == 422 and "cron" in (await bad.get_json())["error"]["fields"]
        ok = await client.post("/api/toolkit/schedules",
                               json={"name": "x", "task": "t:tick", "cron": "weekly"})
        assert (await ok.get_json())["cron"] == "0 3 * * 0"
        off = await client.post("/api/toolkit/schedules/x/enabled", json={"enabled": False})
        assert (await off.get_json())["enabled"] is False
        assert (await client.delete("/api/toolkit/schedules/x")).status_code == 200
        assert (await client.delete("/api/toolkit/schedules/x")).status_code == 404
