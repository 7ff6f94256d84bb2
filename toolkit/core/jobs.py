"""The job runner: persistent jobs with progress, cancellation, history and recovery.

The database row is the job's truth (states as in saq). :class:`JobRunner` is the small
interface the web and plugins use; :class:`InProcessJobRunner` implements it with asyncio in
this process. A distributed engine (saq on Redis/Postgres) could implement the same interface.

Tasks are ``async def task(ctx, **params)``. Blocking work goes through
``await ctx.run_blocking(fn, ...)`` (a worker thread) and polls ``ctx.should_abort()``;
``ctx.report_progress(...)`` may be called from any thread.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Awaitable, Callable, Protocol

from pydantic import ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from toolkit.core.hookspecs import Task
from toolkit.core.i18n import gettext as _
from toolkit.core.models import JobRow, utcnow

log = logging.getLogger(__name__)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.CANCELLING)
# States only move forward: each final state may be reached from these states only (every
# transition is an ``UPDATE ... WHERE state IN (...)``), so a cancelled job never ends
# "completed" and a finished job never becomes active again.
FINAL_FROM: dict[str, tuple[str, ...]] = {
    JobState.COMPLETED: (JobState.RUNNING,),
    JobState.FAILED: (JobState.RUNNING, JobState.CANCELLING),
    JobState.CANCELLED: ACTIVE_STATES,
    JobState.INTERRUPTED: ACTIVE_STATES,
}


class JobError(Exception):
    status = 400


class UnknownTask(JobError):
    status = 404


class JobNotFound(JobError):
    status = 404


class InvalidParams(JobError):
    """The parameters do not fit the task's model; ``fields`` says what is wrong where."""

    status = 422

    def __init__(self, task: str, fields: dict[str, str]):
        self.fields = fields
        super().__init__(_("invalid parameters for %(task)s", task=task) + ": "
                         + "; ".join(f"{k}: {v}" for k, v in fields.items()))


def validate_params(spec: Task, params: Any) -> dict:
    """The task's parameters checked against its model (the validated values, defaults
    included). Raises :class:`InvalidParams`."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidParams(spec.name, {"params": _("must be a JSON object")})
    if spec.params is None:
        return dict(params)
    try:
        return spec.params.model_validate(params).model_dump(mode="json")
    except ValidationError as exc:
        raise InvalidParams(spec.name, {
            ".".join(["params", *map(str, err["loc"])]): err["msg"] for err in exc.errors()
        }) from None


class JobConflict(JobError):
    """Another job holds the same exclusive key."""

    status = 409

    def __init__(self, task: str, key: str, job_id: str):
        self.task, self.key, self.job_id = task, key, job_id
        super().__init__(f"already running: job {job_id} ({task}) is working on {key}")


class JobCancelled(Exception):
    """Raised by a task that noticed ``should_abort()``; what it found may be in ``result``."""

    def __init__(self, result: dict | None = None):
        super().__init__("cancelled")
        self.result = result


@dataclass
class JobView:
    id: str
    task: str
    params: dict
    state: str
    progress: dict
    result: dict | None
    error: str | None
    exclusive_key: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: JobRow) -> "JobView":
        return cls(
            row.id, row.task, row.params or {}, row.state, row.progress or {}, row.result,
            row.error, row.exclusive_key, row.created_at, row.started_at, row.finished_at,
        )

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def duration(self) -> float | None:
        if not self.started_at:
            return None
        return ((self.finished_at or utcnow()) - self.started_at).total_seconds()

    def as_dict(self) -> dict:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {
            "id": self.id, "task": self.task, "params": self.params, "state": self.state,
            "progress": self.progress, "result": self.result, "error": self.error,
            "exclusive_key": self.exclusive_key, "created_at": iso(self.created_at),
            "started_at": iso(self.started_at), "finished_at": iso(self.finished_at),
            "duration": self.duration,
        }


@dataclass
class JobContext:
    """What a running task sees."""

    job_id: str
    params: dict
    sessions: async_sessionmaker
    services: dict = field(default_factory=dict)
    _abort: bool = False
    _shutdown: bool = False
    _progress: dict = field(default_factory=dict)

    def report_progress(
        self,
        fraction: float | None = None,
        phase: str | None = None,
        counters: dict | None = None,
        message: str | None = None,
        **extra: Any,
    ) -> None:
        """Thread-safe: replaces the latest progress; the runner persists it about twice a
        second (so calling this often is cheap)."""
        progress = dict(self._progress)
        for key, value in (("fraction", fraction), ("phase", phase), ("counters", counters),
                           ("message", message), *extra.items()):
            if value is not None:
                progress[key] = value
        self._progress = progress

    def should_abort(self) -> bool:
        return self._abort

    def shutting_down(self) -> bool:
        """True when the abort comes from the toolkit stopping (the job will be
        ``interrupted``), not from a user's cancel."""
        return self._shutdown

    async def run_blocking(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run blocking work in a worker thread so the event loop never stalls."""
        return await asyncio.to_thread(fn, *args, **kwargs)


class JobRunner(Protocol):
    """The interface the rest of the toolkit uses (the scheduler is typed with it);
    tests/core/test_jobs.py checks that :class:`InProcessJobRunner` keeps to it."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def enqueue(self, task: str, params: dict | None = None) -> JobView: ...
    async def get(self, job_id: str) -> JobView: ...
    async def list(self, task: str | None = None, limit: int = 50,
                   states: tuple[str, ...] | None = None) -> list[JobView]: ...
    async def cancel(self, job_id: str) -> JobView: ...
    async def wait(self, job_id: str, timeout: float | None = None) -> JobView: ...


def _owner_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that no longer exists."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class InProcessJobRunner:
    """asyncio workers in this process; at most ``max_concurrent`` jobs run at once."""

    PROGRESS_INTERVAL = 0.5

    def __init__(
        self,
        sessions: async_sessionmaker,
        tasks: dict[str, Task],
        *,
        max_concurrent: int = 2,
        heartbeat: float = 2.0,
        cancel_grace: float = 5.0,
        services: dict | None = None,
        on_finished: Callable[[JobView], Awaitable[None]] | None = None,
    ):
        self.sessions = sessions
        self.tasks = tasks
        self.max_concurrent = max_concurrent
        self.heartbeat = heartbeat
        self.stale_after = max(5 * heartbeat, 10.0)
        self.cancel_grace = cancel_grace
        self.services = services if services is not None else {}
        self.on_finished = on_finished
        self.owner = _owner_token()
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._contexts: dict[str, JobContext] = {}
        self._running: dict[str, asyncio.Task] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._enqueue_lock = asyncio.Lock()
        self._background: list[asyncio.Task] = []

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.recover()
        self._background = [
            asyncio.create_task(self._worker(i), name=f"job-worker-{i}")
            for i in range(self.max_concurrent)
        ]
        self._background.append(asyncio.create_task(self._heartbeat(), name="job-heartbeat"))

    async def stop(self) -> None:
        for ctx in self._contexts.values():
            ctx._abort = ctx._shutdown = True
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=self.cancel_grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        # Jobs this process could not finish are honestly "interrupted".
        await self._mark_interrupted(owner=self.owner)

    async def recover(self) -> int:
        """Jobs left active by a dead process become ``interrupted``."""
        async with self.sessions() as session:
            rows = (await session.execute(
                select(JobRow).where(JobRow.state.in_(ACTIVE_STATES))
            )).scalars().all()
            stale_before = utcnow() - timedelta(seconds=self.stale_after)
            orphans = [
                r.id for r in rows
                if r.owner != self.owner and (
                    _owner_is_dead(r.owner)
                    or (r.heartbeat_at or r.created_at) < stale_before
                )
            ]
            if orphans:
                await session.execute(
                    update(JobRow).where(JobRow.id.in_(orphans),
                                         JobRow.state.in_(ACTIVE_STATES)).values(
                        state=JobState.INTERRUPTED, finished_at=utcnow(),
                        error="interrupted: the process running it stopped",
                    )
                )
                await session.commit()
                log.warning("marked %d orphaned job(s) interrupted", len(orphans))
        return len(orphans)

    async def _mark_interrupted(self, owner: str) -> None:
        async with self.sessions() as session:
            await session.execute(
                update(JobRow)
                .where(JobRow.owner == owner, JobRow.state.in_(ACTIVE_STATES))
                .values(state=JobState.INTERRUPTED, finished_at=utcnow(),
                        error="interrupted: the toolkit was shut down")
            )
            await session.commit()

    # -- API -------------------------------------------------------------------------------
    async def enqueue(self, task: str, params: dict | None = None) -> JobView:
        spec = self.tasks.get(task)
        if spec is None:
            raise UnknownTask(f"unknown task {task!r}")
        params = validate_params(spec, params)
        key = spec.exclusive_key(params) if spec.exclusive_key else None
        async with self._enqueue_lock, self.sessions() as session:
            if key:
                holder = (await session.execute(
                    select(JobRow.id).where(
                        JobRow.exclusive_key == key, JobRow.state.in_(ACTIVE_STATES)
                    ).limit(1)
                )).scalar()
                if holder:
                    raise JobConflict(task, key, holder)
            row = JobRow(
                id=uuid.uuid4().hex, task=task, params=params, state=JobState.QUEUED,
                exclusive_key=key, progress={}, owner=self.owner, created_at=utcnow(),
                heartbeat_at=utcnow(),
            )
            session.add(row)
            await session.commit()
        self._done[row.id] = asyncio.Event()
        self._queue.put_nowait(row.id)
        return JobView.from_row(row)

    async def get(self, job_id: str) -> JobView:
        async with self.sessions() as session:
            row = await session.get(JobRow, job_id)
            if row is None:
                raise JobNotFound(f"no job {job_id!r}")
            view = JobView.from_row(row)
        ctx = self._contexts.get(job_id)
        if ctx is not None and view.active:
            view.progress = ctx._progress  # fresher than the last flush
        return view

    async def list(self, task: str | None = None, limit: int = 50,
                   states: tuple[str, ...] | None = None) -> list[JobView]:
        query = select(JobRow).order_by(JobRow.created_at.desc()).limit(limit)
        if task:
            query = query.where(JobRow.task == task)
        if states:
            query = query.where(JobRow.state.in_(states))
        async with self.sessions() as session:
            return [JobView.from_row(r) for r in (await session.execute(query)).scalars()]

    async def cancel(self, job_id: str) -> JobView:
        view = await self.get(job_id)
        if not view.active:
            return view
        if view.state == JobState.QUEUED and await self._finish(
                job_id, JobState.CANCELLED, error="cancelled before it started",
                from_states=(JobState.QUEUED,)):
            return await self.get(job_id)
        ctx = self._contexts.get(job_id)
        if ctx is not None:
            ctx._abort = True
        # only a running job becomes "cancelling": one that ended meanwhile keeps its end
        if await self._transition(job_id, (JobState.RUNNING,), state=JobState.CANCELLING):
            if job_id in self._running:
                asyncio.get_running_loop().call_later(self.cancel_grace, self._force_cancel, job_id)
        return await self.get(job_id)

    async def wait(self, job_id: str, timeout: float | None = None) -> JobView:
        event = self._done.get(job_id)
        if event is not None:
            await asyncio.wait_for(event.wait(), timeout)
        return await self.get(job_id)

    # -- internals -------------------------------------------------------------------------
    def _force_cancel(self, job_id: str) -> None:
        task = self._running.get(job_id)
        if task is not None and not task.done():
            log.warning("job %s ignored its abort flag; cancelling it", job_id)
            task.cancel()

    async def _transition(self, job_id: str, from_states: tuple[str, ...], **values: Any) -> bool:
        """Update the job only while it is in one of ``from_states``; True when it was."""
        async with self.sessions() as session:
            changed = await session.execute(update(JobRow).where(
                JobRow.id == job_id, JobRow.state.in_(from_states)).values(**values))
            await session.commit()
        return changed.rowcount == 1

    async def _finish(self, job_id: str, state: str, result: dict | None = None,
                      error: str | None = None, from_states: tuple[str, ...] | None = None) -> bool:
        """Move the job to its final ``state`` if it may still go there; a job that finished
        while a cancel was asked ends ``cancelled`` (keeping its result). False when the job
        had already ended (nothing changed, nobody is notified twice)."""
        ctx = self._contexts.get(job_id)
        values: dict[str, Any] = dict(state=state, finished_at=utcnow(), result=result,
                                      error=error)
        if ctx is not None:
            values["progress"] = ctx._progress
        done = self._done.setdefault(job_id, asyncio.Event())
        moved = await self._transition(job_id, from_states or FINAL_FROM[state], **values)
        if not moved and state == JobState.COMPLETED:
            values.update(state=JobState.CANCELLED, error=None)
            moved = await self._transition(job_id, (JobState.CANCELLING,), **values)
        if not moved:  # it had ended already: whoever ended it notifies and sets ``done``
            return False
        view = await self.get(job_id)
        await self._prune(view.task)
        if self.on_finished is not None:
            try:
                await self.on_finished(view)
            except Exception:
                log.exception("job-finished callback failed for %s", job_id)
        done.set()
        return True

    async def _prune(self, task: str) -> None:
        keep = self.tasks[task].keep_last if task in self.tasks else 50
        async with self.sessions() as session:
            old = (await session.execute(
                select(JobRow.id).where(JobRow.task == task,
                                        JobRow.state.not_in(ACTIVE_STATES))
                .order_by(JobRow.created_at.desc()).offset(keep)
            )).scalars().all()
            if old:
                await session.execute(delete(JobRow).where(JobRow.id.in_(old)))
                await session.commit()

    async def _worker(self, _index: int) -> None:
        while True:
            job_id = await self._queue.get()
            try:
                await self._run(job_id)
            except Exception:
                log.exception("job runner failed on %s", job_id)

    async def _run(self, job_id: str) -> None:
        async with self.sessions() as session:
            row = await session.get(JobRow, job_id)
            spec = self.tasks.get(row.task) if row is not None else None
            params = dict(row.params or {}) if row is not None else {}
        # known before the job is "running", so that a cancel from then on reaches it
        ctx = self._contexts[job_id] = JobContext(job_id=job_id, params=params,
                                                  sessions=self.sessions, services=self.services)
        if spec is None or not await self._transition(
                job_id, (JobState.QUEUED,), state=JobState.RUNNING, started_at=utcnow(),
                heartbeat_at=utcnow()):
            self._contexts.pop(job_id, None)
            self._done.setdefault(job_id, asyncio.Event()).set()  # cancelled before it started
            return
        async def call():  # bad parameters then fail the job instead of the worker
            return await spec.func(ctx, **validate_params(spec, params))  # checked again

        task = asyncio.create_task(call(), name=f"job-{job_id}")
        self._running[job_id] = task
        flusher = asyncio.create_task(self._flush_progress(ctx))
        try:
            result = await task
            state, error = _stopped(ctx) if ctx._abort else (JobState.COMPLETED, None)
            await self._finish(job_id, state, result=_jsonable(result), error=error)
        except JobCancelled as exc:
            state, error = _stopped(ctx)
            await self._finish(job_id, state, result=_jsonable(exc.result), error=error)
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():  # the runner itself is stopping
                raise
            # only the job's own task was cancelled (it ignored its abort flag)
            await self._finish(job_id, JobState.CANCELLED, error="cancelled")
        except Exception as exc:
            log.exception("job %s (%s) failed", job_id, spec.name)
            await self._finish(job_id, JobState.FAILED, error=f"{type(exc).__name__}: {exc}")
        finally:
            flusher.cancel()
            self._running.pop(job_id, None)
            self._contexts.pop(job_id, None)

    async def _flush_progress(self, ctx: JobContext) -> None:
        last: dict | None = None
        while True:
            await asyncio.sleep(self.PROGRESS_INTERVAL)
            if ctx._progress is not last:
                last = ctx._progress
                try:
                    await self._transition(ctx.job_id, ACTIVE_STATES, progress=last)
                except Exception:
                    log.exception("could not save progress of %s", ctx.job_id)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                async with self.sessions() as session:
                    await session.execute(
                        update(JobRow)
                        .where(JobRow.owner == self.owner, JobRow.state.in_(ACTIVE_STATES))
                        .values(heartbeat_at=utcnow())
                    )
                    await session.commit()
                await self.recover()
            except Exception:
                log.exception("job heartbeat failed")


def _stopped(ctx: JobContext) -> tuple[str, str | None]:
    """Final state and error of a job that honoured its abort flag: nobody asked a job
    stopped by the toolkit's shutdown to stop, so it is ``interrupted``, not cancelled."""
    if ctx._shutdown:
        return JobState.INTERRUPTED, "interrupted: the toolkit was shut down"
    return JobState.CANCELLED, None


def _jsonable(value: Any) -> dict | None:
    if value is None or isinstance(value, dict):
        return value
    return {"value": value}


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0,
                     interval: float = 0.05) -> None:
    """Poll an async predicate (handy in tests and CLI)."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
