"""A restart in the middle of a scheduled scan: the app stops while the scan hangs on a file
(a link to a FIFO without a writer blocks its reader like a hung mount, so the scan is
certainly running), then a new app starts on the same database file."""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone

from toolkit.core.jobs import wait_until
from toolkit.testing import toolkit_of_app

from .conftest import fire, make_due, save_schedule


async def test_a_restart_mid_scan_leaves_it_interrupted_and_the_schedule_runs_again(
        toolkit_app_factory, toolkit_config, media_env):
    fifo = media_env.store / "hang.fifo"
    os.mkfifo(fifo)
    os.symlink(fifo, media_env.media / "Show 1" / "hang.nfo")

    async with toolkit_app_factory() as app:
        tk = toolkit_of_app(app)
        await save_schedule(app.test_client())
        job_id = await fire(tk, "nightly")

        async def hanging_in_phase1() -> bool:
            job = await tk.runner.get(job_id)
            return job.state == "running" and job.progress.get("phase") == "phase1"

        await wait_until(hanging_in_phase1, timeout=20, interval=0.1)
    # the app stopped mid-scan: nobody cancelled it, so both the job and the scan say so
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        job_state = db.execute("SELECT state, error FROM toolkit_jobs WHERE id = ?", (job_id,)).fetchone()
        scan_status = db.execute("SELECT status, schedule_name FROM symlink_scans WHERE job_id = ?",
                                 (job_id,)).fetchone()
    assert job_state == ("interrupted", "interrupted: the toolkit was shut down")
    assert scan_status == ("interrupted", "nightly")

    os.unlink(fifo)
    fifo.write_text("<episodedetails/>")  # the file answers again
    async with toolkit_app_factory() as app:
        tk = toolkit_of_app(app)
        client = app.test_client()
        (schedule,) = [s for s in await (await client.get("/api/symlink/schedules")).get_json()
                       if s["name"] == "nightly"]
        assert schedule["enabled"] and schedule["last_job_state"] == "interrupted"
        assert schedule["last_scan"]["status"] == "interrupted"
        next_run = datetime.fromisoformat(schedule["next_run_at"])
        assert next_run > datetime.now(timezone.utc)  # not fired again at startup
        assert await tk.scheduler.tick() == []  # nothing is due before its time

        await make_due(tk, "nightly")  # ...and when its time comes, it runs
        new_job_id = await fire(tk, "nightly")
        assert new_job_id != job_id
        assert (await tk.runner.wait(new_job_id, timeout=60)).state == "completed"
        history = await (await client.get("/api/symlink/scans/history")).get_json()
        assert [(h["status"], h["schedule_name"]) for h in history] == [("completed", "nightly"),
                                                                        ("interrupted", "nightly")]


CRASHING_APP = """
import asyncio, sys
from pathlib import Path

from symlink_schedule.conftest import fire, save_schedule
from toolkit.core.jobs import wait_until
from toolkit.testing import make_app, make_config, toolkit_of_app


async def main():
    app = make_app(make_config(Path(sys.argv[1])))
    async with app.test_app():
        tk = toolkit_of_app(app)
        await save_schedule(app.test_client())
        job_id = await fire(tk, "nightly")

        async def hanging():
            job = await tk.runner.get(job_id)
            return job.state == "running" and job.progress.get("phase") == "phase1"

        await wait_until(hanging, timeout=30, interval=0.1)
        print(job_id, flush=True)
        await asyncio.sleep(600)  # until killed

if __name__ == "__main__":  # the scan's spawned process imports this module too
    asyncio.run(main())
"""


async def test_a_scan_left_running_by_a_crash_is_interrupted_at_startup(
        toolkit_app_factory, toolkit_config, media_env, tmp_path):
    """The process is killed (SIGKILL) mid-scan: its rows stay active. The next start
    marks the job interrupted (its process is gone) and the scan follows at once."""
    import asyncio
    import signal
    import sys
    from pathlib import Path

    fifo = media_env.store / "hang.fifo"
    os.mkfifo(fifo)
    os.symlink(fifo, media_env.media / "Show 1" / "hang.nfo")
    script = tmp_path / "crashing_app.py"
    script.write_text(CRASHING_APP)
    tests = str(Path(__file__).resolve().parents[1])  # its helpers, as pytest's pythonpath gives them here
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(toolkit_config.data_dir), stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))})
    try:
        job_id = (await asyncio.wait_for(process.stdout.readline(), 90)).decode().strip()
        assert job_id, "the app did not start its scheduled scan"
        children = [int(pid) for task in Path(f"/proc/{process.pid}/task").iterdir()
                    for pid in (task / "children").read_text().split()]
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    for pid in children:  # the scan's own process dies with the crash too
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        # still active (its status follows its running job's until the task writes the final one)
        assert db.execute("SELECT status FROM symlink_scans WHERE job_id = ?", (job_id,)).fetchone()[0] in (
            "queued", "running")

    async with toolkit_app_factory():
        with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
            assert db.execute("SELECT state FROM toolkit_jobs WHERE id = ?", (job_id,)).fetchone() == ("interrupted",)
            assert db.execute("SELECT status FROM symlink_scans WHERE job_id = ?",
                              (job_id,)).fetchone() == ("interrupted",)
