"""A life for each problem link, across scans (``symlink_problem_lives``), and a trend row
per scan (``symlink_scan_trends``); both outlive the rotation of the detailed scans.

A problem is known by its link's path. Its ``state``:

- ``new``: first found by the last scan that saw it; ``seen``: found again (``times_seen``
  since ``first_seen``); ``back``: found again after it was fixed or acted on.
- ``ignored``: its path is on the ignore list.
- ``retargeted``, ``deleted``, ``researched`` (deleted, then Sonarr/Radarr asked to search):
  someone acted on it; a later scan says whether that worked.
- ``fixed``: a later complete scan of its folder did not find it (``fixed_how``: ``gone``,
  or ``healthy`` when a link is there again and passed), a re-check found it fine
  (``recheck``), or a person said so (``hand``).

:func:`after_scan_blocking` runs in the scan job's thread once the scan's problems are
saved. Other parts record what they did with :func:`record_problem_event`.
"""
from __future__ import annotations

import os
from types import SimpleNamespace
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, bindparam, func, insert, or_, select, true, update
from sqlalchemy.engine import Connection

from toolkit.api import create_engine_sync

from ..history import (ACTIVE_SCAN_STATES, LIFE_STATES, OPEN_STATES, SymlinkProblem,
                       SymlinkProblemLife as Life, SymlinkScan, SymlinkScanTrend as Trend)
from ..schema import utcnow

CHUNK = 500
UNKNOWN = "UNKNOWN"  # the engine's status for a link it could not check (mount down)
# acted on, or fixed: found again, the problem is "coming back"
_ACTED = ("fixed", "retargeted", "deleted", "researched")
EVENT_STATES = ("seen", "ignored", "retargeted", "deleted", "researched", "fixed")


def _next_state(state: str, ignored: bool) -> str:
    if ignored:
        return "ignored"
    if state in _ACTED:
        return "back"
    return "back" if state == "back" else "seen"


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _under_any(folders: list[str]):
    return or_(*[Life.path.startswith(folder.rstrip("/") + "/", autoescape=True) for folder in folders])


def mount_health(results: dict) -> str:
    """One word for the mounts a scan saw: down, degraded, healthy or none (no mount)."""
    mounts = results.get("mounts") or []
    if results.get("mount_down") or any(not m.get("healthy", True) for m in mounts):
        return "down"
    if any(m.get("was_down") or m.get("degraded") for m in mounts):
        return "degraded"
    return "healthy" if mounts else "none"


# ------------------------------------------------------------------------ after a scan

def _apply_sightings(engine, scan_id: str, now: datetime) -> dict[str, int]:
    """Each problem of the scan: a new life, or the next step of its life. Chunked (a
    library with many problems neither fills the memory nor holds the database's lock)."""
    tally = {"new": 0, "seen": 0, "back": 0}
    last_id = 0
    while True:
        with engine.begin() as connection:
            rows = connection.execute(
                select(SymlinkProblem.id, SymlinkProblem.path, SymlinkProblem.target, SymlinkProblem.status,
                       SymlinkProblem.phase, SymlinkProblem.reason, SymlinkProblem.ignored)
                .where(SymlinkProblem.scan_id == scan_id, SymlinkProblem.id > last_id)
                .order_by(SymlinkProblem.id).limit(CHUNK)).all()
            if not rows:
                return tally
            last_id = rows[-1].id
            lives = {row.path: row for row in connection.execute(
                select(Life.id, Life.path, Life.state, Life.last_scan_id)
                .where(Life.path.in_([row.path for row in rows])))}
            inserts, updates, touched = [], [], []
            for problem in rows:
                life = lives.get(problem.path)
                if life is not None and life.last_scan_id == scan_id:
                    continue  # already counted (the same scan applied twice)
                if problem.status == UNKNOWN:
                    # not checked: neither a new problem nor a sighting, but not fixed either
                    if life is not None:
                        touched.append(life.id)
                    continue
                values = {"target": problem.target, "status": problem.status, "phase": problem.phase,
                          "reason": problem.reason, "last_seen": now, "last_scan_id": scan_id}
                if life is None:
                    state = "ignored" if problem.ignored else "new"
                    inserts.append({"path": problem.path, "state": state, "times_seen": 1, "first_seen": now,
                                    "state_changed_at": now, "times_back": 0, **values})
                    tally["new"] += 1
                    continue
                state = _next_state(life.state, problem.ignored)
                if state == "back" and life.state != "back":
                    tally["back"] += 1
                else:
                    tally["seen"] += 1
                updates.append({"b_id": life.id, "b_state": state, "b_back": int(life.state in _ACTED),
                                "b_changed": now if state != life.state else None,
                                **{f"b_{key}": value for key, value in values.items()}})
            if inserts:
                connection.execute(insert(Life), inserts)
            if updates:
                connection.execute(
                    update(Life.__table__).where(Life.__table__.c.id == bindparam("b_id")).values(
                        state=bindparam("b_state"), times_seen=Life.__table__.c.times_seen + 1,
                        times_back=Life.__table__.c.times_back + bindparam("b_back"),
                        state_changed_at=func.coalesce(bindparam("b_changed", type_=DateTime), Life.__table__.c.state_changed_at),
                        fixed_at=None, fixed_how=None,
                        **{key: bindparam(f"b_{key}") for key in
                           ("target", "status", "phase", "reason", "last_seen", "last_scan_id")}),
                    updates)
            if touched:
                connection.execute(update(Life).where(Life.id.in_(touched)).values(last_scan_id=scan_id))


def _mark_gone(engine, scan: Any, now: datetime) -> int:
    """Lives under the scan's folders that this complete scan did not find: fixed. A
    basic scan runs no ffprobe, so it cannot clear what ffprobe found (phase 2)."""
    query = select(Life.id, Life.path).where(
        Life.state != "fixed", or_(Life.last_scan_id.is_(None), Life.last_scan_id != scan.id),
        _under_any(list(scan.selected_paths or [])),
        Life.phase == 1 if scan.verification_depth == "basic" else true())
    fixed, last_id = 0, 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(query.where(Life.id > last_id).order_by(Life.id).limit(CHUNK)).all()
        if not rows:
            return fixed
        last_id = rows[-1].id
        by_how: dict[str, list[int]] = {"healthy": [], "gone": []}
        for row in rows:  # the links are under the media path: no hung mount here
            by_how["healthy" if os.path.lexists(row.path) else "gone"].append(row.id)
        with engine.begin() as connection:
            for how, ids in by_how.items():
                if ids:
                    connection.execute(update(Life).where(Life.id.in_(ids)).values(
                        state="fixed", fixed_at=now, fixed_how=how, state_changed_at=now))
        fixed += len(rows)


def _write_trend(connection: Connection, scan: Any, tally: dict[str, int], now: datetime) -> None:
    counts = dict(connection.execute(
        select(SymlinkProblem.status, func.count()).where(SymlinkProblem.scan_id == scan.id)
        .group_by(SymlinkProblem.status)).all())
    previous = connection.execute(select(func.max(Trend.recorded_at)).where(Trend.scan_id != scan.id)).scalar()
    fixed_since = connection.execute(select(func.count()).select_from(Life).where(
        Life.state == "fixed", Life.fixed_at > previous if previous else true())).scalar_one()
    tracked = connection.execute(select(func.count()).select_from(Life).where(Life.state != "ignored")).scalar_one()
    resolved = connection.execute(select(func.count()).select_from(Life).where(Life.state == "fixed")).scalar_one()
    old = connection.execute(select(Trend.deleted, Trend.repaired).where(Trend.scan_id == scan.id)).first()
    connection.execute(Trend.__table__.delete().where(Trend.scan_id == scan.id))
    connection.execute(insert(Trend).values(
        scan_id=scan.id, scan_date=scan.scan_date, finished_at=scan.finished_at, recorded_at=now,
        mode=scan.mode, depth=scan.verification_depth, status=scan.status,
        total_analyzed=scan.total_analyzed or 0, problems_found=scan.problems_found or 0, counts=counts,
        new_problems=tally.get("new", 0), back_problems=tally.get("back", 0), fixed_problems=fixed_since,
        tracked_problems=tracked, resolved_problems=resolved,
        deleted=old.deleted if old else scan.files_deleted or 0, repaired=old.repaired if old else 0,
        duration=scan.duration, mount_health=mount_health(scan.results_json or {})))


def after_scan_blocking(database_url: str, scan_id: str, status: str) -> dict[str, int]:
    """Blocking (the scan job's thread), once the scan's problems and figures are saved
    and ``status`` is its final one. The lives of the scan's problems move on; when the
    scan completed with every mount up, the problems it no longer found are fixed; then
    the scan's trend row is written. Returns the counts (new, seen, back, fixed)."""
    if status in ACTIVE_SCAN_STATES:
        raise ValueError(f"scan {scan_id} is still {status}")
    engine = create_engine_sync(database_url)
    try:
        now = utcnow()
        with engine.connect() as connection:
            row = connection.execute(select(SymlinkScan.__table__).where(SymlinkScan.id == scan_id)).one()
        scan = SimpleNamespace(**{**row._asdict(), "status": status})
        tally = _apply_sightings(engine, scan_id, now)
        complete = scan.status == "completed" and not (scan.results_json or {}).get("mount_down")
        tally["fixed"] = _mark_gone(engine, scan, now) if complete else 0
        with engine.begin() as connection:
            _write_trend(connection, scan, tally, now)
        return tally
    finally:
        engine.dispose()


# ------------------------------------------------------------------------ events

async def record_problem_event(session, path: str, state: str, *, how: str | None = None) -> bool:
    """Record what was done with the problem at ``path``: ``retargeted``, ``deleted``,
    ``researched``, ``ignored``, ``fixed`` (``how``: hand, recheck...) or ``seen`` (back to
    an open problem: un-ignored, restored). The caller commits ``session``. False when no
    scan ever found a problem there (nothing to record)."""
    if state not in EVENT_STATES:
        raise ValueError(f"state must be one of {', '.join(EVENT_STATES)}, not {state!r}")
    return await record_many(session, [path], state, how=how) > 0


async def record_many(session, paths: list[str], state: str, *, how: str | None = None) -> int:
    """:func:`record_problem_event` for many paths; returns how many lives changed."""
    now, changed = utcnow(), 0
    values: dict[str, Any] = {"state": state, "state_changed_at": now}
    if state == "fixed":
        values.update(fixed_at=now, fixed_how=how or "hand")
    for chunk in _chunks(list(paths)):
        if state == "seen":  # back to open: "seen" once found twice, else still "new"
            for target, times in (("new", Life.times_seen <= 1), ("seen", Life.times_seen > 1)):
                result = await session.execute(update(Life).where(Life.path.in_(chunk), times).values(
                    {**values, "state": target}))
                changed += result.rowcount or 0
            continue
        result = await session.execute(update(Life).where(Life.path.in_(chunk)).values(values))
        changed += result.rowcount or 0
    return changed


async def record_deletion(session, scan_id: str, paths: list[str], *, researched: list[str] = ()) -> None:
    """After a confirmed deletion: ``deleted`` links, ``researched`` the ones Sonarr/Radarr
    were asked to search again; the scan's trend row counts both."""
    await record_many(session, paths, "deleted")
    searched = [path for path in researched if path in set(paths)]
    if searched:
        await record_many(session, searched, "researched")
    await session.execute(update(Trend).where(Trend.scan_id == scan_id).values(
        deleted=Trend.deleted + len(paths), repaired=Trend.repaired + len(searched)))


def searched_links(repair: dict | None) -> list[str]:
    """The links whose item Sonarr/Radarr searched, from a repair summary."""
    return [link for item in (repair or {}).get("item_outcomes", [])
            if item.get("outcome") == "searched" for link in item.get("links", [])]


# ------------------------------------------------------------------------ reading

async def state_counts(session) -> dict[str, int]:
    counts = dict((await session.execute(select(Life.state, func.count()).group_by(Life.state))).all())
    return {state: counts.get(state, 0) for state in LIFE_STATES}


async def state_counts_for_scan(session, scan_id: str) -> dict[str, int]:
    """How many of a scan's problems are in each state now (the Scanner's summary)."""
    counts = dict((await session.execute(
        select(Life.state, func.count()).join(SymlinkProblem, SymlinkProblem.path == Life.path)
        .where(SymlinkProblem.scan_id == scan_id).group_by(Life.state))).all())
    return {state: counts[state] for state in LIFE_STATES if counts.get(state)}


async def lives_by_path(session, paths: list[str]) -> dict[str, Life]:
    found: dict[str, Life] = {}
    for chunk in _chunks(list(paths)):
        found.update((life.path, life) for life in
                     (await session.execute(select(Life).where(Life.path.in_(chunk)))).scalars())
    return found


async def lives_page(session, *, state: str | None = None, page: int = 1, per_page: int = 50) -> dict:
    conditions = [Life.state == state] if state else [Life.state.in_(OPEN_STATES)]
    total = (await session.execute(select(func.count()).select_from(Life).where(*conditions))).scalar_one()
    rows = (await session.execute(select(Life).where(*conditions).order_by(Life.last_seen.desc(), Life.id)
                                  .offset((page - 1) * per_page).limit(per_page))).scalars().all()
    return {"page": page, "per_page": per_page, "total": total, "state": state,
            "pages": max((total + per_page - 1) // per_page, 1), "items": [row.as_dict() for row in rows]}


async def trend_rows(session, limit: int = 60) -> list[Trend]:
    """The newest ``limit`` trend rows, oldest first (the chart reads left to right)."""
    rows = (await session.execute(select(Trend).order_by(Trend.scan_date.desc()).limit(limit))).scalars().all()
    return list(reversed(rows))
