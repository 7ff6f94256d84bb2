"""Cron schedules for plugin tasks, persisted in ``toolkit_schedules``.

Cron expressions are read in the machine's local time zone (``TZ``). When the scheduler wakes
up after missing several runs (the process was down), it fires once and moves ``next_run_at``
to the next time after *now*: missed runs are coalesced. A compare-and-set on ``next_run_at``
makes sure two schedulers sharing the database never fire the same run twice.

A schedule is validated when saved (the task exists and may be scheduled, its parameters fit
the task's model, the cron has five fields and fires within a year) and again when it fires;
rows are run one at a time, and a broken one is marked with its error (``last_outcome``) and
skipped, never stopping the others.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from toolkit.core.errors import FieldsError
from toolkit.core.hookspecs import Schedule, Task
from toolkit.core.i18n import gettext as _
from toolkit.core.jobs import InvalidParams, JobError, JobRunner, validate_params
from toolkit.core.models import ScheduleRow, utcnow

log = logging.getLogger(__name__)

PRESETS = {"hourly": "0 * * * *", "daily": "0 3 * * *", "weekly": "0 3 * * 0"}


class ScheduleError(FieldsError):
    """A schedule or cron expression refused: ``fields`` maps each wrong field to its message."""


def next_run(cron: str, after: datetime | None = None) -> datetime:
    base = (after or utcnow()).astimezone()  # local time zone, as users write cron
    return croniter(cron, base).get_next(datetime).astimezone(utcnow().tzinfo)


def normalise_cron(cron: str) -> str:
    """A preset's expression, or ``cron`` itself once checked: five fields, and a next run
    within a year (``0 0 31 2 *`` never fires)."""
    if not isinstance(cron, str) or len(cron) > 200:
        raise ScheduleError({"cron": _("a cron expression of five fields is required")})
    cron = PRESETS.get(cron.strip().lower(), " ".join(cron.split()))
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ScheduleError({"cron": _("not a valid cron expression of five fields: %(cron)s", cron=repr(cron))})
    try:
        fires = next_run(cron)
    except Exception:  # croniter gives up on dates that never come
        fires = None
    if fires is None or fires - utcnow() > timedelta(days=366):
        raise ScheduleError({"cron": _("%(cron)s does not fire within a year", cron=repr(cron))})
    return cron


def check_task(tasks: dict[str, Task], task: str, params: object) -> dict:
    """The validated parameters of a schedulable task; raises ``ScheduleError``."""
    spec = tasks.get(task)
    if spec is None:
        raise ScheduleError({"task": _("unknown task %(task)s", task=repr(task))})
    if not spec.schedulable:
        raise ScheduleError({"task": _("%(task)s may not be scheduled", task=task)})
    try:
        return validate_params(spec, params)
    except InvalidParams as exc:
        raise ScheduleError(exc.fields) from None


@dataclass
class ScheduleView:
    name: str
    task: str
    cron: str
    params: dict
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_job_id: str | None
    last_outcome: str | None

    def as_dict(self) -> dict:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {**self.__dict__, "next_run_at": iso(self.next_run_at),
                "last_run_at": iso(self.last_run_at)}


class Scheduler:
    def __init__(self, sessions: async_sessionmaker, runner: JobRunner, *,
                 tasks: dict[str, Task], defaults: dict[str, Schedule] | None = None,
                 interval: float = 5.0):
        self.sessions = sessions
        self.runner = runner
        self.tasks = tasks
        self.defaults = defaults or {}
        self.interval = interval
        self._loop_task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        await self.sync_defaults()
        self._loop_task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None

    async def sync_defaults(self) -> None:
        """Create plugins' default schedules once; the user's edits are kept afterwards."""
        async with self.sessions() as session:
            existing = set((await session.execute(select(ScheduleRow.name))).scalars())
            for s in self.defaults.values():
                if s.name not in existing:
                    try:
                        cron = normalise_cron(s.cron)
                        params = check_task(self.tasks, s.task, s.params)
                    except ScheduleError as exc:
                        log.error("default schedule %s is invalid: %s", s.name, exc)
                        continue
                    session.add(ScheduleRow(
                        name=s.name, task=s.task, cron=cron, params=params,
                        enabled=s.enabled, next_run_at=next_run(cron) if s.enabled else None,
                        updated_at=utcnow()))
            await session.commit()

    async def list(self) -> list[ScheduleView]:
        return await self._views()

    async def get(self, name: str) -> ScheduleView | None:
        views = await self._views(ScheduleRow.name == name)
        return views[0] if views else None

    async def _views(self, where=None) -> list[ScheduleView]:
        """The schedules, each row's parameters read on their own: a row whose parameters
        cannot be read or are not an object still shows, with its error."""
        query = select(ScheduleRow.id, ScheduleRow.name, ScheduleRow.task, ScheduleRow.cron,
                       ScheduleRow.enabled, ScheduleRow.next_run_at, ScheduleRow.last_run_at,
                       ScheduleRow.last_job_id, ScheduleRow.last_outcome).order_by(ScheduleRow.name)
        async with self.sessions() as session:
            rows = (await session.execute(query if where is None else query.where(where))).all()
        views = []
        for r in rows:
            outcome = r.last_outcome
            try:
                async with self.sessions() as session:
                    params = (await session.execute(
                        select(ScheduleRow.params).where(ScheduleRow.id == r.id))).scalar()
                if params is not None and not isinstance(params, dict):
                    outcome = "error: its parameters are not a JSON object"
            except Exception as exc:
                params, outcome = None, f"error: its parameters cannot be read ({type(exc).__name__})"
            views.append(ScheduleView(r.name, r.task, r.cron, params if isinstance(params, dict) else {},
                                      r.enabled, r.next_run_at, r.last_run_at, r.last_job_id, outcome))
        return views

    async def save(self, name: str, *, task: str, cron: str, params: dict | None = None,
                   enabled: bool = True) -> ScheduleView:
        """Create or replace a schedule (validated: a schedulable task, its parameters,
        a cron of five fields firing within a year)."""
        errors = {}
        if not isinstance(name, str) or not name or len(name) > 200:
            errors["name"] = "a name of 1 to 200 characters is required"
        try:
            params = check_task(self.tasks, task, params)
        except ScheduleError as exc:
            errors.update(exc.fields)
        try:
            cron = normalise_cron(cron)
        except ScheduleError as exc:
            errors.update(exc.fields)
        if errors:
            raise ScheduleError(errors)
        async with self.sessions() as session:
            row = (await session.execute(
                select(ScheduleRow).where(ScheduleRow.name == name))).scalar()
            if row is None:
                row = ScheduleRow(name=name)
                session.add(row)
            row.task, row.cron, row.params, row.enabled = task, cron, params, enabled
            row.next_run_at = next_run(cron) if enabled else None
            row.updated_at = utcnow()
            await session.commit()
        self._wake.set()
        return await self.get(name)

    async def set_enabled(self, name: str, enabled: bool) -> ScheduleView:
        current = await self.get(name)
        if current is None:
            raise ScheduleError({"name": _("no schedule %(name)s", name=repr(name))})
        return await self.save(name, task=current.task, cron=current.cron,
                               params=current.params, enabled=enabled)

    async def delete(self, name: str) -> bool:
        async with self.sessions() as session:
            row = (await session.execute(
                select(ScheduleRow).where(ScheduleRow.name == name))).scalar()
            if row is None:
                return False
            await session.delete(row)
            await session.commit()
            return True

    async def tick(self, now: datetime | None = None) -> list[str]:
        """Fire every due schedule once, one row at a time; returns the ids of the jobs
        started. A row that cannot run (unknown or unschedulable task, invalid parameters or
        cron) is marked with its error and no next run; the others still run."""
        now = now or utcnow()
        fired: list[str] = []
        async with self.sessions() as session:
            due = (await session.execute(select(ScheduleRow.id).where(
                ScheduleRow.enabled.is_(True), ScheduleRow.next_run_at <= now))).scalars().all()
        for row_id in due:
            try:
                job_id = await self._fire(row_id, now)
            except Exception as exc:
                log.warning("schedule %s is broken: %s", row_id, exc)
                await self._record(row_id, next_run_at=None, last_outcome=f"error: {exc}")
                continue
            if job_id:
                fired.append(job_id)
        return fired

    async def _fire(self, row_id: int, now: datetime) -> str | None:
        async with self.sessions() as session:
            row = await session.get(ScheduleRow, row_id)
            if row is None:
                return None
            task, params, cron, planned = row.task, row.params, row.cron, row.next_run_at
        params = check_task(self.tasks, task, params)  # saved by an older version, perhaps
        following = next_run(normalise_cron(cron), now)
        async with self.sessions() as session:
            claimed = await session.execute(
                update(ScheduleRow)
                .where(ScheduleRow.id == row_id, ScheduleRow.next_run_at == planned)
                .values(next_run_at=following, last_run_at=now))
            await session.commit()
        if claimed.rowcount != 1:
            return None  # another scheduler took this run
        try:
            job = await self.runner.enqueue(task, params)
        except JobError as exc:
            log.warning("scheduled %s not started: %s", task, exc)
            await self._record(row_id, last_outcome=f"skipped: {exc}")
            return None
        await self._record(row_id, last_outcome="started", last_job_id=job.id)
        return job.id

    async def _record(self, row_id: int, **values) -> None:
        async with self.sessions() as session:
            await session.execute(update(ScheduleRow).where(ScheduleRow.id == row_id).values(**values))
            await session.commit()

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
