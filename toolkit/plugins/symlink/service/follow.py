"""Closing the loop after a repair search: did Sonarr/Radarr bring the item back?

After a deletion, :func:`start_following` keeps one row per series/movie the *arr was asked
to search (``symlink_repair_follows``). The ``symlink:follow-repairs`` task (a schedule runs
it) reads each one's history (Sonarr ``GET /history/series?seriesId=``, Radarr
``GET /history/movie?movieId=``: one request per item) and moves it on:

    searching -> grabbed -> imported -> repaired (every searched episode/movie imported
    since the search, and each imported file's link healthy by the engine's own checks)

An item not repaired ``repair_missing_hours`` after the search is "still missing" (it may
still come back while it is followed). Each outcome is notified once; the deleted links'
problem lives become ``fixed`` (``repaired``) when the item is repaired.

The cost is bounded: only searches younger than :data:`FOLLOW_DAYS`, at most
:data:`MAX_PER_RUN` items per run (the least recently looked at first), :data:`PACE_SECONDS`
between requests. A Sonarr/Radarr that does not answer changes nothing (the failure is kept
for the page): "still missing" is only said after the history was read.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from toolkit.api import PathMapper, ServiceError, Toolkit, arr_client, arr_connections

from ..engine.workers import CallTimeout, call_with_deadline
from ..history import SymlinkRepairFollow as Follow
from ..schema import utcnow
from .common import settings_of
from .lifecycle import record_many
from .recheck import recheck_blocking

log = logging.getLogger(__name__)

FOLLOW_DAYS = 7
MAX_PER_RUN = 50
PACE_SECONDS = 1.0  # between two history requests: kind to a busy Sonarr (tests set 0)
CHECK_SECONDS = 60.0  # the new links' check, whatever their mount does
CLOCK_SLACK = timedelta(minutes=2)  # the *arr's clock may run a little behind ours
FOLLOWED_KINDS = ("sonarr", "radarr")
GRABBED = ("grabbed",)
IMPORTED = ("downloadFolderImported", "seriesFolderImported", "movieFolderImported")
OUTCOMES = ("repaired", "missing")


async def start_following(session, repair: dict | None, *, scan_id: str | None, job_id: str | None) -> int:
    """After a deletion's repair: a follow-up row per item Sonarr/Radarr searched. The
    caller commits ``session``. Returns how many."""
    now, rows = utcnow(), []
    for item in (repair or {}).get("item_outcomes", []):
        if item.get("outcome") != "searched" or item.get("service") not in FOLLOWED_KINDS:
            continue
        if not isinstance(item.get("item_id"), int) or not item.get("search_ids"):
            continue
        rows.append(Follow(scan_id=scan_id, job_id=job_id, service=item["service"], item_type=item["item_type"],
                           item_id=item["item_id"], title=str(item.get("title") or item["item_id"]),
                           search_ids=list(item["search_ids"]), links=list(item.get("links") or []),
                           requested_at=now, state="searching"))
    session.add_all(rows)
    return len(rows)


def _when(value: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def read_history(events: list[dict], follow: Follow) -> tuple[datetime | None, datetime | None, list[str]]:
    """When the searched episodes/movie were first grabbed since the search, when the last
    of them was imported (``None`` until every one was), and the imported files' paths (as
    the *arr sees them; none when one import does not name its file)."""
    key = "episodeId" if follow.service == "sonarr" else "movieId"
    wanted = set(follow.search_ids)
    since = follow.requested_at - CLOCK_SLACK
    grabbed: datetime | None = None
    imported: dict[int, tuple[datetime, str]] = {}
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):  # an odd answer says nothing: the item stays where it was
            continue
        moment = _when(event.get("date"))
        if moment is None or moment < since or not isinstance(event.get(key), int) or event[key] not in wanted:
            continue
        if event.get("eventType") in GRABBED:
            grabbed = min(grabbed, moment) if grabbed else moment
        elif event.get("eventType") in IMPORTED:
            data = event.get("data")
            path = str(data.get("importedPath") or "") if isinstance(data, dict) else ""
            if event[key] not in imported or imported[event[key]][0] < moment:
                imported[event[key]] = (moment, path)
    if set(imported) != wanted:
        return grabbed, None, []
    last = max(moment for moment, _path in imported.values())
    paths = {path for _moment, path in imported.values()}
    # an import that names no file cannot be checked: no "repaired" on a guess
    return grabbed or last, last, sorted(paths) if "" not in paths else []


def new_links_health(paths: list[str], small_files: str = "media") -> str | None:
    """Blocking: ``None`` when every imported file is there and, when it is a link, passes
    the engine's phase-1 checks; else why not (the first one that fails)."""
    for path in paths:
        if os.path.islink(path):
            result = recheck_blocking(path, small_files=small_files)
            if result.verdict != "healthy":
                return f"{path}: {result.reason or result.verdict}"
        elif not os.path.isfile(path):
            return f"{path}: not found"
    return None


async def _check_links(paths: list[str], small_files: str) -> str | None:
    try:
        return await asyncio.to_thread(call_with_deadline, new_links_health, paths, small_files,
                                       timeout=CHECK_SECONDS)
    except CallTimeout:
        return f"no answer within {CHECK_SECONDS:g}s"
    except OSError as exc:
        return str(exc)


async def _step(follow: Follow, events: list[dict], settings, now: datetime) -> dict:
    """The row's new values from its history (and the new links' check)."""
    grabbed, imported, arr_paths = read_history(events, follow)
    values: dict = {"checked_at": now, "check_error": None, "grabbed_at": grabbed, "imported_at": imported}
    state = "imported" if imported else "grabbed" if grabbed else "searching"
    if imported:
        mapper = PathMapper(settings.path_mappings)
        paths = [mapper.to_toolkit(path) for path in arr_paths]
        values["new_paths"] = paths
        problem = await _check_links(paths, settings.small_files) if paths else "the history names no imported file"
        if problem is None:
            state = "repaired"
            values["repaired_at"] = follow.repaired_at or now
        else:
            values["check_error"] = problem
    if state != "repaired" and now - follow.requested_at >= timedelta(hours=settings.repair_missing_hours):
        state = "missing"
        values["missing_at"] = follow.missing_at or now
    values["state"] = state
    return values


async def follow_repairs(tk: Toolkit, *, now: datetime | None = None, pace: float | None = None,
                         should_abort: Callable[[], bool] = lambda: False) -> dict:
    """One look at the pending repairs (see the module's docstring); returns the tally and
    the items whose outcome is new (to notify)."""
    now = now or utcnow()
    if now.tzinfo:  # the tables hold naive UTC times
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    settings = await settings_of(tk)
    connections = {c.kind.value: c for c in await arr_connections(tk)}
    async with tk.sessions() as session:
        follows = (await session.execute(
            select(Follow).where(Follow.state != "repaired", Follow.requested_at >= now - timedelta(days=FOLLOW_DAYS))
            .order_by(Follow.checked_at.is_not(None), Follow.checked_at, Follow.id).limit(MAX_PER_RUN))).scalars().all()
    tally = {"looked": 0, "unreachable": 0, **{state: 0 for state in ("searching", "grabbed", "imported", *OUTCOMES)}}
    clients: dict = {}
    try:
        for index, follow in enumerate(follows):
            if should_abort():
                break
            if index:
                await asyncio.sleep(PACE_SECONDS if pace is None else pace)
            tally["looked"] += 1
            connection = connections.get(follow.service)
            try:
                if connection is None:
                    raise ServiceError(f"{follow.service} is not configured any more")
                client = clients.get(follow.service) or clients.setdefault(
                    follow.service, arr_client(tk, connection, retries=1, backoff=0.2))
                values = await _step(follow, await client.history(follow.item_id), settings, now)
            except ServiceError as exc:  # nothing is known: no state changes, no false "missing"
                tally["unreachable"] += 1
                values = {"checked_at": now, "check_error": exc.message}
            async with tk.sessions() as session:
                await session.execute(update(Follow).where(Follow.id == follow.id).values(**values))
                if values.get("state") == "repaired":
                    await record_many(session, list(follow.links), "fixed", how="repaired")
                await session.commit()
            if "state" in values:
                tally[values["state"]] += 1
    finally:
        for client in clients.values():
            await client.aclose()
    tally["notified"] = await notify_outcomes(tk)
    return tally


async def notify_outcomes(tk: Toolkit) -> int:
    """One message for the items whose outcome (repaired, still missing) was not told yet;
    each is told once (a missing item that comes back later is told again, as repaired)."""
    from .follow_words import outcome_message

    async with tk.sessions() as session:
        pending = (await session.execute(select(Follow).where(
            Follow.state.in_(OUTCOMES), (Follow.notified.is_(None)) | (Follow.notified != Follow.state))
            .order_by(Follow.id))).scalars().all()
        if not pending:
            return 0
        settings = await settings_of(tk)
        for event, chosen in (("deleted", [f for f in pending if f.state == "repaired"]),
                              ("problems", [f for f in pending if f.state == "missing"])):
            if chosen:
                title, body = outcome_message(chosen, settings.repair_missing_hours)
                await tk.notifier.send(event, title, body, link="/symlink?tab=dashboard#sl-repairs")
        await session.execute(update(Follow).where(Follow.id.in_([f.id for f in pending]))
                              .values(notified=Follow.state))
        await session.commit()
    return len(pending)


async def follows_page(tk: Toolkit, *, scan_id: str | None = None, state: str | None = None,
                       limit: int = 50) -> dict:
    """The newest follow-ups (of one scan's deletion, or all), with counts per state."""
    conditions = [Follow.scan_id == scan_id] if scan_id else []
    async with tk.sessions() as session:
        counts = dict((await session.execute(select(Follow.state, func.count()).where(*conditions)
                                             .group_by(Follow.state))).all())
        if state:
            conditions.append(Follow.state == state)
        rows = (await session.execute(select(Follow).where(*conditions).order_by(Follow.id.desc())
                                      .limit(limit))).scalars().all()
    hours = (await settings_of(tk)).repair_missing_hours
    return {"counts": counts, "missing_after_hours": hours, "items": [row.as_dict() for row in rows]}
