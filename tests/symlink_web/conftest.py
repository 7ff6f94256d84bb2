"""Helpers of the symlink page and API tests: wait for a scan, a job, the link counts. (The
generated library, ``library`` and ``media_env``, is in tests/conftest.py.)"""
from __future__ import annotations

import asyncio

from toolkit.api import current_toolkit
from toolkit.core.jobs import wait_until
from toolkit.testing import toolkit_of_app


async def wait_scan(client, scan_id: str, timeout: float = 30.0) -> dict:
    body: dict = {}

    async def finished() -> bool:
        nonlocal body
        response = await client.get(f"/api/symlink/scan/status/{scan_id}")
        body = await response.get_json()
        return body["status"] not in ("queued", "running", "cancelling")

    await wait_until(finished, timeout=timeout, interval=0.1)
    return body


async def wait_job(app, job_id: str, timeout: float = 30.0):
    async with app.app_context():
        return await current_toolkit().runner.wait(job_id, timeout=timeout)


async def settle_counts(app) -> None:
    counter = toolkit_of_app(app).services.get("symlink_counter")
    if counter is not None:
        await asyncio.wait_for(counter.wait(), 30)
