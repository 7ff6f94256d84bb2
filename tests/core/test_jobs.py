"""The job runner against a real SQLite file."""
from __future__ import annotations

import asyncio
import inspect
import threading
import time
from datetime import timedelta

import pytest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from toolkit.core import db, migrate
from toolkit.core.hookspecs import Task
from toolkit.core.jobs import (InProcessJobRunner, InvalidParams, JobCancelled, JobConflict,
                               JobRunner, UnknownTask)
from toolkit.core.models import JobRow, utcnow


async def cooperative(ctx, steps: int = 1000, pause: float = 0.01, path: str = ""):
    """Blocking work in a thread that polls should_abort() and keeps what it found."""
    def work():
        done = 0
        for done in range(1, steps + 1):
            if ctx.should_abort():
                raise JobCancelled({"done": done})
            ctx.report_progress(fraction=done / steps, phase="counting",
                                counters={"done": done}, message=f"{done}/{steps}")
            time.sleep(pause)
        return {"done": done}

    return await ctx.run_blocking(work)


async def failing(ctx):
    raise ValueError("the disk is on fire")


async def quick(ctx, value: int = 0):
    return {"value": value}


TASKS = {
    "t:coop": Task("t:coop", cooperative, exclusive_key=lambda p: p.get("path"), keep_last=3),
    "t:fail": Task("t:fail", failing),
    "t:quick": Task("t:quick", quick, keep_last=2),
}


@pytest.fixture
async def sessions(toolkit_config):
    await asyncio.to_thread(migrate.upgrade_heads, toolkit_config.database_url, [])
    engine = db.create_engine_async(toolkit_config.database_url)
    yield db.session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def runner(sessions):
    r = InProcessJobRunner(sessions, TASKS, max_concurrent=2, cancel_grace=2.0)
    await r.start()
    yield r
    await r.stop()


async def test_job_completes_with_progress_and_result(runner):
    job = await runner.enqueue("t:coop", {"steps": 5, "pause": 0})
    assert job.state == "queued"
    final = await runner.wait(job.id, timeout=10)
    assert final.state == "completed"
    assert final.result == {"done": 5}
    assert final.progress["fraction"] == 1.0 and final.progress["counters"] == {"done": 5}
    assert final.started_at and final.finished_at and final.finished_at >= final.started_at


async def test_event_loop_keeps_running_during_blocking_work(runner):
    job = await runner.enqueue("t:coop", {"steps": 30, "pause": 0.01})
    ticks = 0
    while (await runner.get(job.id)).active:
        ticks += 1
        await asyncio.sleep(0.005)
    assert ticks > 10  # the loop served us all along while the job's thread slept


async def test_progress_is_visible_while_running(runner):
    job = await runner.enqueue("t:coop", {"steps": 200, "pause": 0.01})
    await asyncio.sleep(0.3)
    running = await runner.get(job.id)
    assert running.state == "running"
    assert 0 < running.progress["counters"]["done"] < 200
    await runner.cancel(job.id)


async def test_cancel_stops_a_cooperative_job_within_a_second(runner):
    job = await runner.enqueue("t:coop", {"steps": 100000, "pause": 0.01})
    await asyncio.sleep(0.2)
    asked = time.monotonic()
    view = await runner.cancel(job.id)
    assert view.state == "cancelling"
    final = await runner.wait(job.id, timeout=5)
    assert time.monotonic() - asked < 1.0
    assert final.state == "cancelled"
    assert final.result["done"] > 1  # what was found is kept


async def short(ctx, seconds: float = 0.0):
    """Ends on its own after ``seconds`` in a thread, whatever the abort flag says."""
    await ctx.run_blocking(time.sleep, seconds)
    return {"slept": seconds}


async def test_a_cancel_racing_the_end_of_a_job_never_ends_completed(sessions):
    """Cancels land just before, during and just after the end of a job, many times: the
    job always ends, ends once, and once a cancel answered 'cancelling' it ends cancelled."""
    finished: list[tuple[str, str]] = []

    async def on_finished(view):
        finished.append((view.id, view.state))

    r = InProcessJobRunner(sessions, {"t:short": Task("t:short", short)}, max_concurrent=2,
                           on_finished=on_finished)
    await r.start()
    try:
        outcomes = set()
        for attempt in range(60):
            job = await r.enqueue("t:short", {"seconds": 0.002 * (attempt % 5)})
            await asyncio.sleep(0.001 * (attempt % 7))
            answered = (await r.cancel(job.id)).state
            final = await r.wait(job.id, timeout=10)
            outcomes.add((answered, final.state))
            assert final.state in ("completed", "cancelled"), (attempt, answered, final.state)
            if answered in ("cancelling", "cancelled"):
                assert final.state == "cancelled", (attempt, answered)
            assert [state for job_id, state in finished if job_id == job.id] == [final.state]
        assert {"cancelled"} <= {final for _, final in outcomes}
    finally:
        await r.stop()


async def test_cancel_a_queued_job(sessions):
    r = InProcessJobRunner(sessions, TASKS, max_concurrent=1)
    await r.start()
    try:
        first = await r.enqueue("t:coop", {"steps": 100000, "pause": 0.01})
        second = await r.enqueue("t:quick", {"value": 1})
        await asyncio.sleep(0.1)
        assert (await r.get(second.id)).state == "queued"  # the limit holds it back
        assert (await r.cancel(second.id)).state == "cancelled"
        await r.cancel(first.id)
        await r.wait(first.id, timeout=5)
        assert (await r.get(second.id)).state == "cancelled"  # it never ran
        assert (await r.get(second.id)).result is None
    finally:
        await r.stop()


async def test_concurrency_limit(sessions):
    r = InProcessJobRunner(sessions, TASKS, max_concurrent=1)
    await r.start()
    try:
        a = await r.enqueue("t:coop", {"steps": 20, "pause": 0.01})
        b = await r.enqueue("t:coop", {"steps": 20, "pause": 0.01})
        await asyncio.sleep(0.1)
        states = {(await r.get(a.id)).state, (await r.get(b.id)).state}
        assert states == {"running", "queued"}
        fa, fb = await r.wait(a.id, 10), await r.wait(b.id, 10)
        assert fa.finished_at <= fb.started_at
    finally:
        await r.stop()


async def test_exclusive_key_refuses_a_second_job(runner):
    first = await runner.enqueue("t:coop", {"path": "/media/tv", "steps": 100000})
    with pytest.raises(JobConflict, match="already running") as info:
        await runner.enqueue("t:coop", {"path": "/media/tv"})
    assert info.value.job_id == first.id
    other = await runner.enqueue("t:coop", {"path": "/media/films", "steps": 1, "pause": 0})
    assert (await runner.wait(other.id, 5)).state == "completed"
    await runner.cancel(first.id)
    await runner.wait(first.id, 5)
    again = await runner.enqueue("t:coop", {"path": "/media/tv", "steps": 1, "pause": 0})
    assert (await runner.wait(again.id, 5)).state == "completed"


async def test_failure_is_recorded(runner):
    job = await runner.enqueue("t:fail")
    final = await runner.wait(job.id, 5)
    assert final.state == "failed"
    assert final.error == "ValueError: the disk is on fire"


async def test_bad_parameters_fail_the_job_not_the_runner(runner):
    job = await runner.enqueue("t:quick", {"surprise": 1})
    final = await runner.wait(job.id, 5)
    assert final.state == "failed" and "surprise" in final.error
    ok = await runner.enqueue("t:quick", {"value": 2})
    assert (await runner.wait(ok.id, 5)).result == {"value": 2}


async def test_unknown_task(runner):
    with pytest.raises(UnknownTask):
        await runner.enqueue("t:nope")


async def test_history_keeps_the_last_n_per_task(runner):
    ids = []
    for i in range(5):
        job = await runner.enqueue("t:quick", {"value": i})
        await runner.wait(job.id, 5)
        ids.append(job.id)
    failed = await runner.enqueue("t:fail")
    await runner.wait(failed.id, 5)
    kept = [j.id for j in await runner.list(task="t:quick")]
    assert kept == [ids[4], ids[3]]  # keep_last=2, newest first
    assert [j.id for j in await runner.list(task="t:fail")] == [failed.id]


async def test_jobs_of_a_dead_process_become_interrupted(sessions):
    async with sessions() as s:
        s.add_all([
            JobRow(id="a" * 32, task="t:coop", params={}, state="running", progress={},
                   owner="somehost:1:dead", heartbeat_at=utcnow() - timedelta(minutes=5)),
            # same host, a pid that cannot exist: dead at once, whatever its heartbeat
            JobRow(id="b" * 32, task="t:coop", params={}, state="running", progress={},
                   owner=f"{__import__('socket').gethostname()}:999999999:x",
                   heartbeat_at=utcnow()),
            # another live process (another host, fresh heartbeat): left alone
            JobRow(id="c" * 32, task="t:coop", params={}, state="running", progress={},
                   owner="otherhost:1:live", heartbeat_at=utcnow()),
        ])
        await s.commit()
    r = InProcessJobRunner(sessions, TASKS)
    await r.start()
    try:
        assert (await r.get("a" * 32)).state == "interrupted"
        assert (await r.get("b" * 32)).state == "interrupted"
        assert (await r.get("c" * 32)).state == "running"
    finally:
        await r.stop()


async def test_stopping_the_runner_marks_unfinished_jobs_interrupted(sessions):
    r = InProcessJobRunner(sessions, TASKS, cancel_grace=0.5)
    await r.start()
    job = await r.enqueue("t:quick", {})
    await r.wait(job.id, 5)
    slow = await r.enqueue("t:coop", {"steps": 100000, "pause": 0.01})
    await asyncio.sleep(0.1)
    await r.stop()
    async with sessions() as s:
        states = dict((await s.execute(select(JobRow.id, JobRow.state))).all())
    assert states[job.id] == "completed"
    # it honoured the abort flag within the grace period, yet nobody cancelled it
    assert states[slow.id] == "interrupted"


async def test_report_progress_from_many_threads_is_safe(runner):
    async def hammer(ctx):
        def work(n):
            for i in range(500):
                ctx.report_progress(counters={"thread": n, "i": i})
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        await ctx.run_blocking(lambda: ([t.start() for t in threads], [t.join() for t in threads]))
        return {"ok": True}

    runner.tasks["t:hammer"] = Task("t:hammer", hammer)
    job = await runner.enqueue("t:hammer")
    final = await runner.wait(job.id, 10)
    assert final.state == "completed" and final.progress["counters"]["i"] == 499


class CountParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int = Field(0, ge=0, le=10)


async def test_parameters_are_validated_when_enqueued_and_again_when_the_job_starts(sessions):
    spec = Task("t:checked", quick, params=CountParams)
    r = InProcessJobRunner(sessions, {"t:checked": spec}, max_concurrent=1)
    with pytest.raises(InvalidParams) as info:
        await r.enqueue("t:checked", {"value": 11, "extra": 1})
    assert set(info.value.fields) == {"params.value", "params.extra"}
    with pytest.raises(InvalidParams):
        await r.enqueue("t:checked", ["not", "an", "object"])
    good = await r.enqueue("t:checked", {"value": "3"})
    assert good.params == {"value": 3}  # the validated values are what is stored
    async with sessions() as session:  # changed behind the runner's back before it starts
        row = await session.get(JobRow, good.id)
        row.params = {"value": 99}
        await session.commit()
    await r.start()
    try:
        done = await r.wait(good.id, timeout=10)
    finally:
        await r.stop()
    assert done.state == "failed" and "params.value" in done.error and done.result is None


def test_the_runner_keeps_to_the_job_runner_interface():
    """Every method of the ``JobRunner`` protocol exists on the runner with the same
    signature (the protocol had drifted from the runner once)."""
    methods = [name for name, member in vars(JobRunner).items()
               if inspect.isfunction(member) and not name.startswith("_")]
    assert {"enqueue", "get", "list", "cancel", "wait", "start", "stop"} <= set(methods)
    for name in methods:
        expected = inspect.signature(getattr(JobRunner, name))
        assert inspect.signature(getattr(InProcessJobRunner, name)) == expected, name
