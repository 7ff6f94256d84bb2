"""A scan's row, kept in step with its job: a scan whose job ended without the task saying
so takes the job's final state when it is next read."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from toolkit.api import PluginError, Toolkit, find_job
from toolkit.api import gettext as _

from ..history import ACTIVE_SCAN_STATES, KEEP_SCANS, SymlinkScan
from ..schema import utcnow


async def set_scan(sessions, scan_id: str, *conditions: Any, **values: Any) -> None:
    """Write ``values`` to the scan's row (only when ``conditions`` hold) in a session of
    ``sessions`` (the toolkit's or a job's)."""
    async with sessions() as session:
        await session.execute(update(SymlinkScan).where(SymlinkScan.id == scan_id, *conditions)
                              .values(**values))
        await session.commit()


# a finished job's state as its scan's status, for a job that ended without the task
# writing the scan's own (a failed job's scan is in "error")
FINAL_STATUS = {"cancelled": "cancelled", "completed": "completed", "interrupted": "interrupted"}


def _follow_job(scan: SymlinkScan, job) -> bool:
    """An active scan's status is its job's state (queued, running, cancelling), copied here
    when the scan is read: nothing else writes it (the task writes only the final status,
    and a cancel only asks the runner). A scan whose job ended without the task saying so
    (cancelled while queued, process restarted...) takes the job's final state. True when
    ``scan`` changed."""
    if job is None:
        scan.status = "interrupted"
        return True
    if not job.active:
        scan.status = FINAL_STATUS.get(job.state, "error")
        scan.error_message = scan.error_message or job.error
        scan.finished_at = scan.finished_at or utcnow()
        return True
    changed = scan.status != job.state
    scan.status = str(job.state)
    return changed


async def reconcile_active(tk: Toolkit, session) -> None:
    rows = (await session.execute(select(SymlinkScan).where(
        SymlinkScan.status.in_(ACTIVE_SCAN_STATES)))).scalars().all()
    changed = False
    for scan in rows:
        if scan.job_id:
            changed |= _follow_job(scan, await find_job(tk, scan.job_id))
    if changed:
        await session.commit()


async def reconcile_all(tk: Toolkit) -> None:
    async with tk.sessions() as session:
        await reconcile_active(tk, session)


async def get_scan(tk: Toolkit, scan_id: str, *, with_job: bool = False):
    """The scan (reconciled with its job when it looks active); with ``with_job``, also its
    job's view (``None`` once finished or gone)."""
    job = None
    async with tk.sessions() as session:
        scan = await session.get(SymlinkScan, scan_id)
        if scan is None:
            raise PluginError(404, _("no scan %(id)s (only the last %(n)s scans are kept)", id=repr(scan_id), n=KEEP_SCANS))
        if scan.status in ACTIVE_SCAN_STATES and scan.job_id:
            job = await find_job(tk, scan.job_id)
            if _follow_job(scan, job):
                await session.commit()
    return (scan, job) if with_job else scan

