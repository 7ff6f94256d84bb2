"""Helpers of the scheduled scans and notifications tests: fire a schedule now, run it, save
one. (The generated library, ``media_env``, ``rclone_mount`` and the webhook ``inbox`` are
fixtures of tests/conftest.py.)"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from toolkit.core.jobs import wait_until
from toolkit.core.models import ScheduleRow, utcnow


async def make_due(tk, name: str) -> None:
    """Move a schedule's next run into the past, as if its time had come."""
    async with tk.sessions() as session:
        await session.execute(update(ScheduleRow).where(ScheduleRow.name == name)
                              .values(next_run_at=utcnow() - timedelta(minutes=1)))
        await session.commit()


async def fire(tk, name: str) -> str:
    """Make ``name`` due and let the scheduler fire it (``tick()``; the app's own scheduler
    loop may win the race, which is fine: the compare-and-set fires it once). Returns the
    job's id."""
    before = (await tk.scheduler.get(name)).last_job_id
    await make_due(tk, name)
    await tk.scheduler.tick()

    async def fired() -> bool:
        return (await tk.scheduler.get(name)).last_job_id not in (None, before)

    await wait_until(fired, timeout=15)
    return (await tk.scheduler.get(name)).last_job_id


async def run_schedule(tk, name: str, timeout: float = 60):
    """Fire ``name`` and wait for its scan job, then for the deletion it may have started.
    Returns ``(scan job, scan dict, deletion job or None)``."""
    from toolkit.plugins.symlink.service import scans

    job = await tk.runner.wait(await fire(tk, name), timeout=timeout)
    history = await scans.history(tk)
    scan = next((h for h in history if h["job_id"] == job.id), None)
    deletion = None
    if scan and (scan.get("auto_delete") or {}).get("job_id"):
        deletion = await tk.runner.wait(scan["auto_delete"]["job_id"], timeout=timeout)
        scan = next(h for h in await scans.history(tk) if h["job_id"] == job.id)
    return job, scan, deletion


async def save_schedule(client, **fields) -> dict:
    body = {"name": "nightly", "frequency": "daily", "time": "03:00", "mode": "dry-run",
            "verification_depth": "basic", "enabled": True, **fields}
    response = await client.post("/api/symlink/schedules", json=body)
    data = await response.get_json()
    assert response.status_code == 200, data
    return data
