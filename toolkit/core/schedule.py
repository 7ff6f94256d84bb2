"""Cron schedules for plugin tasks, persisted in ``toolkit_schedules``.

Cron expressions are read in the machine's local time zone (``TZ``). When the scheduler wakes
up after missing several runs (the process was down), it fires once and moves ``next_run_at``
to the next time after *now*: missed runs are coalesced. A compare-and-set on ``next_run_at``
makes sure two schedulers sharing the database never fire the same run twice.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from toolkit.core.hookspecs import Schedule
from toolkit.core.jobs import JobError, JobRunner
from toolkit.core.models import ScheduleRow, utcnow

log = logging.getLogger(__name__)

PRESETS = {"hourly": "0 * * * *", "daily": "0 3 * * *", "weekly": "0 3 * * 0"}


class ScheduleError(ValueError):
    def __init__(self, fields: dict[str, str]):
        self.fields = fields
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))


def next_run(cron: str, after: datetime | None = None) -> datetime:
    base = (after or utcnow()).astimezone()  # local time zone, as users write cron
    return croniter(cron, base).get_next(datetime).astimezone(utcnow().tzinfo)


def normalise_cron(cron: str) -> str:
    cron = PRESETS.get(cron.strip().lower(), cron.strip())
    if not croniter.is_valid(cron):
        raise ScheduleError({"cron": f"not a valid cron expression: {cron!r}"})
    return cron


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

    @classmethod
    def from_row(cls, r: ScheduleRow) -> "ScheduleView":
        return cls(r.name, r.task, r.cron, r.params or {}, r.enabled, r.next_run_at,
                   r.last_run_at, r.last_job_id, r.last_outcome)

    def as_dict(self) -> dict:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {**self.__dict__, "next_run_at": iso(self.next_run_at),
                "last_run_at": iso(self.last_run_at)}


class Scheduler:
    def __init__(self, sessions: async_sessionmaker, runner: JobRunner, *,
                 tasks: set[str], defaults: dict[str, Schedule] | None = None,
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
                    cron = normalise_cron(s.cron)
                    session.add(ScheduleRow(
                        name=s.name, task=s.task, cron=cron, params=s.params,
                        enabled=s.enabled, next_run_at=next_run(cron) if s.enabled else None,
                        updated_at=utcnow()))
            await session.commit()

    async def list(self) -> list[ScheduleView]:
        async with self.sessions() as session:
            rows = (await session.execute(select(ScheduleRow).order_by(ScheduleRow.name)))
            return [ScheduleView.from_row(r) for r in rows.scalars()]

    async def get(self, name: str) -> ScheduleView | None:
        async with self.sessions() as session:
            row = (await session.execute(
                select(ScheduleRow).where(ScheduleRow.name == name))).scalar()
            return ScheduleView.from_row(row) if row else None

    async def save(self, name: str, *, task: str, cron: str, params: dict | None = None,
                   enabled: bool = True) -> ScheduleView:
        """Create or replace a schedule (validated: known task, valid cron)."""
        errors = {}
        if not name or len(name) > 200:
            errors["name"] = "a name of 1 to 200 characters is required"
        if task not in self.tasks:
            errors["task"] = f"unknown task {task!r}"
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
            row.task, row.cron, row.params, row.enabled = task, cron, params or {}, enabled
            row.next_run_at = next_run(cron) if enabled else None
            row.updated_at = utcnow()
            await session.commit()
        self._wake.set()
        return await self.get(name)

    async def set_enabled(self, name: str, enabled: bool) -> ScheduleView:
        current = await self.get(name)
        if current is None:
            raise ScheduleError({"name": f"no schedule {name!r}"})
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
        """Fire every due schedule once; returns the ids of the jobs started."""
        now = now or utcnow()
        fired: list[str] = []
        async with self.sessions() as session:
            due = (await session.execute(select(ScheduleRow).where(
                ScheduleRow.enabled.is_(True), ScheduleRow.next_run_at <= now))).scalars().all()
            due = [(r.id, r.task, dict(r.params or {}), r.cron, r.next_run_at) for r in due]
        for row_id, task, params, cron, planned in due:
            async with self.sessions() as session:
                claimed = await session.execute(
                    update(ScheduleRow)
                    .where(ScheduleRow.id == row_id, ScheduleRow.next_run_at == planned)
                    .values(next_run_at=next_run(cron, now), last_run_at=now))
                await session.commit()
            if claimed.rowcount != 1:
                continue  # another scheduler took this run
            try:
                job = await self.runner.enqueue(task, params)
                outcome, job_id = "started", job.id
                fired.append(job.id)
            except JobError as exc:
                outcome, job_id = f"skipped: {exc}", None
                log.warning("scheduled %s not started: %s", task, exc)
            async with self.sessions() as session:
                values = {"last_outcome": outcome}
                if job_id:
                    values["last_job_id"] = job_id
                await session.execute(
                    update(ScheduleRow).where(ScheduleRow.id == row_id).values(**values))
                await session.commit()
        return fired

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
