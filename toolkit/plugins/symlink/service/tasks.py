"""Job-runner tasks of the symlink plugin.

- ``symlink:scan`` drives the engine (:func:`checker.run_scan`) in a child process
  (:mod:`scanproc`), streams each problem into ``symlink_problems`` in batches (memory stays bounded whatever the
  library's size), reports progress and honours cancellation.
- ``symlink:delete`` deletes the problems of a scan that the user confirmed, through the
  engine's :func:`deletion.delete_problems` (re-check, journal first, links only).

Both open a blocking SQLAlchemy engine on the toolkit's database inside their thread: the
event loop only coordinates.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from toolkit.api import (JobCancelled, JobContext, Schedule, Task, arr_connections, create_engine_sync,
                         refresh_media_servers, toolkit_of)

from ..engine.checker import Problem, Progress, ScanOptions
from ..scanproc import run_scan_in_child
from ..history import SymlinkIgnore, SymlinkProblem, SymlinkScan, STATISTICS_COLUMNS
from ..schema import utcnow
from .deletions import (auto_delete, check_deletion_allowed, deletable_filter, deletable_set_query,
                        selection_token)
from .follow import start_following
from .follow_task import FOLLOW_SCHEDULE, FOLLOW_TASK
from .lifecycle import after_scan_blocking, record_deletion, searched_links
from .common import settings_of
from .records import get_scan, set_scan
from .scans import plan_queued_scan, scan_for_scheduled_job

log = logging.getLogger(__name__)
PROBLEM_BATCH = 500
DELETE_CHUNK = 200
# share of the overall progress bar that phase 1 takes when phase 2 follows
PHASE1_SHARE_WITH_PHASE2 = 0.3
SCAN_NICENESS = 10


Path = Annotated[str, Field(min_length=1, max_length=4096)]


class ScanParams(BaseModel):
    """``symlink:scan``: with ``scan_id``, run the queued scan the page or API recorded (its
    own folders, mode and depth are used); without, record one first (a schedule)."""

    model_config = ConfigDict(extra="forbid")
    scan_id: str | None = Field(None, min_length=1, max_length=64)
    paths: list[Path] | None = Field(None, max_length=100)
    mode: Literal["dry-run", "real"] = "dry-run"
    depth: Literal["basic", "full", "deep"] = "basic"
    workers: int = Field(12, ge=1, le=64)
    small_files: Literal["media", "all"] = "media"
    expected_links: int | None = Field(None, ge=0, le=2**53)
    schedule: str | None = Field(None, max_length=200)


class DeleteParams(BaseModel):
    """``symlink:delete``: the confirmed deletion of a real-mode scan's problems. ``token``
    names the exact set the person confirmed (all of them, or ``problem_ids``);
    ``override`` is their explicit pass of the mass-deletion guard."""

    model_config = ConfigDict(extra="forbid")
    scan_id: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=1, max_length=64)
    problem_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(None, max_length=5000)
    override: bool = False
    paths: list[Path] | None = Field(None, max_length=100)
    depth: Literal["basic", "full", "deep"] = "basic"
    small_files: Literal["media", "all"] = "media"


def scan_exclusive_key(params: dict) -> str:
    return "symlink:scan:" + "|".join(sorted(params.get("paths") or []))


def delete_exclusive_key(params: dict) -> str:
    return f"symlink:delete:{params.get('scan_id')}"


class ProblemWriter:
    """Buffers problems found by the engine and inserts them in batches (engine thread)."""

    def __init__(self, engine: Engine, scan_id: str, ignored: frozenset[str]):
        self.engine, self.scan_id, self.ignored = engine, scan_id, ignored
        self.buffer: list[dict[str, Any]] = []
        self.count = 0

    def add(self, problem: Problem) -> None:
        self.buffer.append({
            "scan_id": self.scan_id, "path": problem.path, "target": problem.target,
            "status": problem.status, "phase": problem.phase, "size": problem.size or 0,
            "reason": problem.reason, "ignored": problem.path in self.ignored})
        self.count += 1
        if len(self.buffer) >= PROBLEM_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            with self.engine.begin() as connection:
                connection.execute(insert(SymlinkProblem), self.buffer)
            self.buffer = []


def overall_fraction(progress: Progress, depth: str, expected_links: int | None) -> float | None:
    """One bar for the whole scan: phase 1 then (for full/deep) phase 2."""
    phase1_share = 1.0 if depth == "basic" else PHASE1_SHARE_WITH_PHASE2
    if progress.phase == "done":
        return 1.0
    if progress.phase == "phase2" and progress.total:
        return phase1_share + (1 - phase1_share) * min(progress.done / progress.total, 1.0)
    if progress.phase == "phase1" and expected_links:
        return phase1_share * min(progress.done / expected_links, 0.99)
    return None if progress.phase == "phase1" else 0.0


def _progress_reporter(ctx: JobContext, depth: str, expected_links: int | None) -> Callable[[Progress], None]:
    started = time.monotonic()

    def report(progress: Progress) -> None:
        eta = progress.eta_seconds
        if eta is None and progress.phase == "phase1" and expected_links and progress.rate > 0:
            eta = max(expected_links - progress.done, 0) / progress.rate
        ctx.report_progress(
            overall_fraction(progress, depth, expected_links), progress.phase,
            dict(progress.counts), progress.message, eta=round(eta, 1) if eta is not None else None,
            done=progress.done, total=progress.total if progress.phase == "phase2" else expected_links,
            rate=round(progress.rate, 1), elapsed=round(time.monotonic() - started, 1))

    return report


def _scan_blocking(ctx: JobContext, database_url: str, options: ScanOptions,
                   ignored: frozenset[str], expected_links: int | None):
    """Run the engine in its child process (``scanproc``: the engine's threads never compete
    with the web's event loop for the GIL, and a child stuck on a hung mount is left
    behind, never waited for); write its problems, relay its progress and our cancel flag."""
    engine = create_engine_sync(database_url)
    writer = ProblemWriter(engine, options.scan_id or "", ignored)
    try:
        result = run_scan_in_child(options, on_problem=writer.add,
                                   on_progress=_progress_reporter(ctx, options.depth, expected_links),
                                   should_abort=ctx.should_abort, database_url=database_url, verdicts=True,
                                   mount_memory=True, niceness=SCAN_NICENESS)
        writer.flush()
        return result, writer.count
    finally:
        writer.flush()
        engine.dispose()


async def scan_task(ctx: JobContext, *, scan_id: str | None = None, paths: list[str] | None = None,
                    mode: str = "dry-run", depth: str = "basic", workers: int = 12,
                    small_files: str = "media", expected_links: int | None = None,
                    schedule: str | None = None) -> dict:
    """Run one scan. Started by a schedule (no ``scan_id``), it records its scan row first and,
    in real mode, may delete what it found afterwards (see :func:`.deletions.auto_delete`)."""
    toolkit = toolkit_of(ctx)
    scheduled = scan_id is None
    # the folders are resolved under the media path now, whatever the parameters say
    if scheduled:
        planned = await scan_for_scheduled_job(
            toolkit, ctx.job_id, {"paths": paths, "mode": mode, "depth": depth}, schedule=schedule)
    else:
        planned = await plan_queued_scan(toolkit, scan_id, ctx.job_id)
    scan_id, paths, mode, depth = planned["scan_id"], planned["paths"], planned["mode"], planned["depth"]
    workers, small_files = planned["workers"], planned["small_files"]
    async with ctx.sessions() as session:
        ignored = frozenset((await session.execute(select(SymlinkIgnore.path))).scalars())
    options = ScanOptions(paths=paths, depth=depth, workers=workers, small_files=small_files,
                          scan_id=scan_id)
    started = time.monotonic()
    try:
        result, found = await ctx.run_blocking(
            _scan_blocking, ctx, toolkit.config.database_url, options, ignored, expected_links)
    except Exception as exc:
        await set_scan(ctx.sessions, scan_id, status="error", error_message=f"{type(exc).__name__}: {exc}",
                        finished_at=utcnow(), duration=round(time.monotonic() - started, 3))
        raise
    if result.cancelled:
        # stopped by the toolkit's shutdown: "interrupted", like its job (nobody cancelled it)
        status = "interrupted" if ctx.shutting_down() else "cancelled"
    else:
        status = "error" if result.stopped_reason else "completed"
    statistics = {name: result.statistics.get(name, 0) for name in STATISTICS_COLUMNS}
    statistics["files_deleted"] = 0
    await set_scan(
        ctx.sessions, scan_id, finished_at=utcnow(), duration=result.duration_seconds,
        problems_found=found, error_message=result.stopped_reason, **statistics,
        results_json={"mounts": result.mounts, "mount_down": result.mount_down,
                      "stopped_reason": result.stopped_reason,
                      "walk_errors": result.walk_errors[:20],
                      "phase2_estimate": result.phase2_estimate,
                      "media_links": result.statistics.get("media_links", 0),
                      "skipped_cached": result.statistics.get("skipped_cached", 0)})
    summary = {"scan_id": scan_id, "status": status, "problems_found": found,
               "statistics": statistics, "mode": mode}
    try:
        # each problem's life moves on (new, seen again, fixed...) and the scan's trend row is
        # kept, before the status says "finished" (whoever waits for it then reads them)
        summary["lives"] = await ctx.run_blocking(after_scan_blocking, toolkit.config.database_url,
                                                  scan_id, status)
    except Exception as exc:  # the scan's own findings stand; the next scan catches up
        log.exception("scan %s: recording the problems' lives failed", scan_id)
        summary["lives_error"] = f"{type(exc).__name__}: {exc}"
    await set_scan(ctx.sessions, scan_id, status=status)
    if result.cancelled:
        raise JobCancelled(summary)
    if scheduled and mode == "real":
        # also when the engine stopped the scan: the decision then says why nothing is deleted
        summary["auto_delete"] = await auto_delete(toolkit, scan_id)
    if result.stopped_reason:
        raise RuntimeError(result.stopped_reason)
    return summary


def _delete_blocking(ctx: JobContext, database_url: str, scan_id: str, problem_ids: list[int] | None,
                     options: ScanOptions, token: str, media_path: str):
    from ..engine.deletion import delete_problems
    from ..engine.mounts import MountMonitor
    from ..mount_memory import SqlMountMemory
    from ..store import DeletionJournal

    engine = create_engine_sync(database_url)
    journal = DeletionJournal(engine)
    monitor = MountMonitor(timeout=options.mount_timeout, interval=options.mount_check_interval,
                           expected_mounts=options.expected_mounts,
                           known_mounts=SqlMountMemory(engine).known())
    tally = {"deleted": 0, "skipped": 0, "failed": 0}
    removed: list[tuple[str, str]] = []  # (path, target) of each link removed, for the *arr repair
    try:
        with engine.connect() as connection:
            if selection_token(scan_id, connection.execute(
                    deletable_set_query(scan_id, problem_ids)).one()) != token:
                raise RuntimeError("the scan's results changed after the confirmation: nothing "
                                   "was deleted; review them again")
            total = connection.execute(select(func.count()).select_from(SymlinkProblem).where(
                *deletable_filter(scan_id),
                SymlinkProblem.id.in_(problem_ids) if problem_ids is not None else True)).scalar()
        last_id, done = 0, 0
        while not ctx.should_abort():
            query = (select(SymlinkProblem).where(*deletable_filter(scan_id), SymlinkProblem.id > last_id)
                     .order_by(SymlinkProblem.id).limit(DELETE_CHUNK))
            if problem_ids is not None:
                query = query.where(SymlinkProblem.id.in_(problem_ids))
            with engine.connect() as connection:
                rows = connection.execute(query).mappings().all()
            if not rows:
                break
            last_id = rows[-1]["id"]
            ids_by_path = {row["path"]: row["id"] for row in rows}
            problems = [Problem(row["path"], row["target"], row["status"], row["phase"], row["size"], row["reason"])
                        for row in rows]

            def record(outcome) -> None:
                nonlocal done
                done += 1
                tally[outcome.outcome] = tally.get(outcome.outcome, 0) + 1
                if outcome.outcome == "deleted":
                    removed.append((outcome.path, outcome.target))
                with engine.begin() as connection:
                    connection.execute(update(SymlinkProblem)
                                       .where(SymlinkProblem.id == ids_by_path[outcome.path])
                                       .values(outcome=outcome.outcome, outcome_reason=outcome.reason,
                                               journal_id=outcome.journal_id))
                    if outcome.outcome == "deleted":
                        connection.execute(update(SymlinkScan).where(SymlinkScan.id == scan_id)
                                           .values(files_deleted=SymlinkScan.files_deleted + 1))
                ctx.report_progress(done / total if total else 1.0, "delete",
                                    dict(tally), f"{done}/{total} handled", done=done, total=total)

            delete_problems(problems, journal=journal, scan_id=scan_id, should_abort=ctx.should_abort,
                            options=options, monitor=monitor, on_outcome=record, root=media_path)
        return tally, removed
    finally:
        engine.dispose()


async def delete_task(ctx: JobContext, *, scan_id: str, token: str, problem_ids: list[int] | None = None,
                      override: bool = False, paths: list[str] | None = None,
                      depth: str = "basic", small_files: str = "media") -> dict:
    toolkit = toolkit_of(ctx)
    # however it was started: only a real-mode scan's confirmed set, within the guard
    await check_deletion_allowed(toolkit, scan_id, problem_ids, override)
    settings = await settings_of(toolkit)
    options = ScanOptions(paths=paths or ["/"], depth=depth, small_files=small_files, scan_id=scan_id)
    tally, removed = await ctx.run_blocking(_delete_blocking, ctx, toolkit.config.database_url,
                                            scan_id, problem_ids, options, token, settings.media_path)
    summary: dict[str, Any] = {"scan_id": scan_id, **tally}
    if removed:  # Jellyfin/Emby/Plex re-scan exactly the folders that changed
        scan = await get_scan(toolkit, scan_id)
        summary["media_servers"] = await refresh_media_servers(
            toolkit, [path for path, _ in removed], scan_mounts=(scan.results_json or {}).get("mounts", []))
    if not ctx.should_abort():
        summary["repair"] = await repair_arr(ctx, settings, removed)
    if removed:
        async with ctx.sessions() as session:
            await record_deletion(session, scan_id, [path for path, _ in removed],
                                  researched=searched_links(summary.get("repair")))
            # the searched items are followed in Sonarr/Radarr's history (symlink:follow-repairs)
            summary["following"] = await start_following(session, summary.get("repair"),
                                                         scan_id=scan_id, job_id=ctx.job_id)
            await session.commit()
    if ctx.should_abort():
        raise JobCancelled(summary)
    return summary


async def repair_arr(ctx: JobContext, settings, removed: list[tuple[str, str]]) -> dict | None:
    """After links were deleted, ask the enabled Sonarr/Radarr to catch up (the same code as
    the CLI); a failure is reported in the summary, never raised (the deletion is done)."""
    from .repair import repair_after_deletion

    return await repair_after_deletion(
        toolkit_of(ctx), settings, removed, connections=await arr_connections(toolkit_of(ctx)),
        on_progress=lambda done, total, message: ctx.report_progress(
            done / total if total else None, "repair", message=message),
        should_abort=ctx.should_abort)


SCHEDULES = [
    Schedule(name="symlink-weekly-dry-run", task="symlink:scan", cron="0 4 * * 0",
             params={"mode": "dry-run", "depth": "basic", "schedule": "symlink-weekly-dry-run"},
             enabled=False),
    FOLLOW_SCHEDULE,
]

TASKS = [
    Task(name="symlink:scan", func=scan_task, exclusive_key=scan_exclusive_key, keep_last=20,
         description="Check the library's symlinks (phase 1, and ffprobe for full/deep)",
         params=ScanParams, schedulable=True),
    Task(name="symlink:delete", func=delete_task, exclusive_key=delete_exclusive_key, keep_last=20,
         description="Delete the confirmed problem links of a scan (journaled, reversible)",
         params=DeleteParams, schedulable=False),
    FOLLOW_TASK,
]
