"""Repair by re-targeting, for the API, the page and the CLI: plan (a scan's broken links
whose file is elsewhere on the mount, or every link of a moved mount), apply exactly the
reviewed plan (named by its token), undo from the journal.

A plan is kept in memory for :data:`PLAN_TTL` seconds under its token, a hash of its
changes: applying names the token (and may pick some of its links), so what is changed is
what the person saw. Applying refuses while a mount holding the old or new targets is
down; each link is re-checked, journaled and replaced by the engine
(:mod:`..engine.retarget`); the media servers are asked to scan exactly the changed
folders.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import func, select, update

from toolkit.api import PluginError, Toolkit, create_engine_sync, mounts_down, refresh_media_servers
from toolkit.api import gettext as _

from ..engine.model import BROKEN
from ..mount_memory import SqlMountMemory
from ..engine.mounts import MountMonitor
from ..engine.mounttable import is_under, lexical_target
from ..engine.moved_mount import plan_prefix
from ..engine.find_moved import find_moved
from ..engine.retarget import Change, retarget_links, undo_retargets
from ..engine.walk import walk_links
from ..engine.workers import CallTimeout, call_with_deadline
from ..history import SymlinkProblem, SymlinkScan
from ..models import SymlinkRetarget
from .lifecycle import record_many
from .retarget_journal import SqlRetargetJournal, known_sizes

PLAN_TTL = 3600.0
MAX_PLANS = 20
MAX_LINKS = 5000  # broken links of one scan looked for at a time
FS_TIMEOUT = 10.0
MOUNT_TIMEOUT = 5.0
_PLANS = "symlink_retarget_plans"
_LOCK = "symlink_retarget_lock"


@dataclass
class Plan:
    token: str
    kind: str  # proposal | prefix
    changes: list[Change]
    scan_id: str | None = None
    created: float = field(default_factory=time.monotonic)


def _token(kind: str, scan_id: str | None, changes: list[Change]) -> str:
    text = json.dumps([kind, scan_id, [[c.path, c.old_target, c.new_target] for c in changes]])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _plans(tk: Toolkit) -> OrderedDict[str, Plan]:
    plans = tk.services.get(_PLANS)
    if plans is None:
        plans = tk.services[_PLANS] = OrderedDict()
    now = time.monotonic()
    for token in [t for t, p in plans.items() if now - p.created > PLAN_TTL]:
        del plans[token]
    return plans


def _keep(tk: Toolkit, plan: Plan) -> None:
    plans = _plans(tk)
    plans[plan.token] = plan
    while len(plans) > MAX_PLANS:
        plans.popitem(last=False)


def _lock(tk: Toolkit) -> asyncio.Lock:
    lock = tk.services.get(_LOCK)
    if lock is None:
        lock = tk.services[_LOCK] = asyncio.Lock()
    return lock


def _monitor(database_url: str):
    """A mount monitor that also knows the mounts earlier scans saw answering (one of them
    missing now is down, not an empty folder), and the database engine (the caller
    disposes of it)."""
    engine = create_engine_sync(database_url)
    return engine, MountMonitor(timeout=MOUNT_TIMEOUT, interval=60.0, known_mounts=SqlMountMemory(engine).known())


async def _media_path(tk: Toolkit) -> str:
    return (await tk.settings.get("symlink")).media_path


# ------------------------------------------------------------------------ plans

def _propose_blocking(database_url: str, media_path: str, links: list[tuple[int, str, str]]) -> dict:
    engine, monitor = _monitor(database_url)
    try:
        sizes = known_sizes(engine, [lexical_target(path, target) for _, path, target in links])
    finally:
        engine.dispose()
    found = find_moved([(path, target) for _, path, target in links], monitor, sizes=sizes,
                       exclude=[media_path], fs_timeout=FS_TIMEOUT)
    proposals = [{"problem_id": problem_id, **proposal.as_dict()}
                 for (problem_id, _, _), proposal in zip(links, found.proposals)]
    return {**found.as_dict(), "proposals": proposals}


async def propose_for_scan(tk: Toolkit, scan_id: str, problem_ids: list[int] | None = None) -> dict:
    """Look for the files of a completed scan's BROKEN links (not ignored, not handled yet)
    elsewhere on their mount; a plan of those found once, with its token."""
    async with tk.sessions() as session:
        scan = await session.get(SymlinkScan, scan_id)
        if scan is None:
            raise PluginError(404, f"no scan {scan_id!r}")
        if scan.status != "completed":
            raise PluginError(409, _("the scan is %(status)s: only a completed scan's results can be re-pointed",
                                     status=scan.status), code="not_completed")
        query = select(SymlinkProblem.id, SymlinkProblem.path, SymlinkProblem.target).where(
            SymlinkProblem.scan_id == scan_id, SymlinkProblem.status == BROKEN,
            SymlinkProblem.ignored.is_(False), SymlinkProblem.outcome.is_(None)).order_by(SymlinkProblem.id)
        if problem_ids:
            query = query.where(SymlinkProblem.id.in_(problem_ids))
        links = [tuple(row) for row in (await session.execute(query.limit(MAX_LINKS))).all()]
    found = await asyncio.to_thread(_propose_blocking, tk.config.database_url, await _media_path(tk), links)
    changes = [Change(p["path"], p["old_target"], p["new_target"]) for p in found["proposals"] if p["new_target"]]
    plan = Plan(_token("proposal", scan_id, changes), "proposal", changes, scan_id)
    _keep(tk, plan)
    return {"token": plan.token, "scan_id": scan_id, "count": len(changes), **found}


def _clean_prefix(value: object, field_name: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value:
        raise PluginError(400, _("give an absolute folder"), fields={field_name: _("an absolute folder")})
    if ".." in value.split("/"):
        raise PluginError(400, _("'..' is not allowed"), fields={field_name: _("'..' is not allowed")})
    cleaned = os.path.normpath(value)
    if cleaned == "/":
        raise PluginError(400, _("not the root folder"), fields={field_name: _("not the root folder")})
    return cleaned


def _prefix_blocking(database_url: str, media_path: str, old: str, new: str) -> dict:
    engine, monitor = _monitor(database_url)
    engine.dispose()
    health = monitor.health_of(new, force=True)
    if not health.healthy:
        return {"down": [{"mount_point": health.mount_point, "reason": health.reason}]}
    try:
        is_folder = call_with_deadline(os.path.isdir, new, timeout=FS_TIMEOUT)
    except CallTimeout:
        return {"down": [{"mount_point": new, "reason": f"no answer within {FS_TIMEOUT:g}s"}]}
    if not is_folder:
        return {"not_a_folder": True}
    errors: list[str] = []
    plan = plan_prefix(walk_links([media_path], errors, deadline=FS_TIMEOUT), old, new, fs_timeout=FS_TIMEOUT)
    plan.errors.extend(errors)
    return {"plan": plan}


async def propose_prefix(tk: Toolkit, data: dict) -> dict:
    """Preview of a moved mount: every link under the media path pointing under ``from``,
    pointed under ``to`` instead, only where that file exists. Nothing changes."""
    old, new = _clean_prefix(data.get("from"), "from"), _clean_prefix(data.get("to"), "to")
    if is_under(new, old) or is_under(old, new):
        raise PluginError(400, _("the two folders must not hold each other"), fields={"to": _("choose another folder")})
    found = await asyncio.to_thread(_prefix_blocking, tk.config.database_url, await _media_path(tk), old, new)
    if "down" in found:
        down = found["down"][0]
        raise PluginError(409, _("the mount %(mount)s is down (%(reason)s): nothing can be re-pointed there now",
                                 mount=down["mount_point"], reason=down["reason"]), code="mount_down")
    if found.get("not_a_folder"):
        raise PluginError(400, _("%(path)s is not an existing folder", path=new),
                          fields={"to": _("not an existing folder")})
    plan = found["plan"]
    kept = Plan(_token("prefix", None, plan.changes), "prefix", plan.changes)
    _keep(tk, kept)
    return {"token": kept.token, **plan.as_dict()}


# ------------------------------------------------------------------------ apply, undo

def _apply_blocking(database_url: str, media_path: str, plan: Plan, changes: list[Change]) -> list[dict]:
    engine, monitor = _monitor(database_url)
    try:
        outcomes = retarget_links(changes, journal=SqlRetargetJournal(engine), root=media_path, monitor=monitor,
                                  kind=plan.kind, batch=plan.token, scan_id=plan.scan_id,
                                  require_broken=plan.kind == "proposal", fs_timeout=FS_TIMEOUT)
    finally:
        engine.dispose()
    return [o.as_dict() for o in outcomes]


async def _refuse_when_down(tk: Toolkit, plan: Plan, changes: list[Change]) -> None:
    """A mount holding the new targets is down (for a repair, the old ones' too: the links
    may be broken only because it is; a moved mount's old place is gone on purpose)."""
    targets = [lexical_target(c.path, c.new_target) for c in changes]
    if plan.kind == "proposal":
        targets += [lexical_target(c.path, c.old_target) for c in changes]
    down = [m for m in await mounts_down(tk) if any(is_under(t, m["mount_point"]) for t in targets)]
    if down:
        raise PluginError(409, _("the mount %(mount)s is down (%(reason)s): nothing was re-pointed",
                                 mount=down[0]["mount_point"], reason=down[0].get("reason", "down")),
                          code="mount_down")


async def apply(tk: Toolkit, data: dict) -> dict:
    """Apply a reviewed plan: ``{"token": ..., "paths": [...]}`` (``paths``: some of its
    links; default all). 409 when the token is unknown or expired, or a path is not in it."""
    token, paths = data.get("token"), data.get("paths")
    async with _lock(tk):
        plan = _plans(tk).get(token) if isinstance(token, str) else None
        if plan is None:
            raise PluginError(409, _("this proposal is no longer current: look again"), code="stale_plan")
        if paths:
            by_path = {c.path: c for c in plan.changes}
            unknown = [p for p in paths if p not in by_path]
            if unknown:
                raise PluginError(409, _("%(n)s link(s) are not in this proposal: look again", n=len(unknown)),
                                  code="stale_plan", paths=unknown[:20])
            chosen = [by_path[p] for p in dict.fromkeys(paths)]
        else:
            chosen = list(plan.changes)
        if not chosen:
            raise PluginError(409, _("nothing to re-point in this proposal"), code="nothing_to_retarget")
        await _refuse_when_down(tk, plan, chosen)
        outcomes = await asyncio.to_thread(_apply_blocking, tk.config.database_url, await _media_path(tk),
                                           plan, chosen)
        done = [o for o in outcomes if o["outcome"] == "retargeted"]
        # applied links leave the plan (the rest of it may still be applied with the same token)
        handled = {o["path"] for o in outcomes}
        plan.changes = [c for c in plan.changes if c.path not in handled]
    if done:
        async with tk.sessions() as session:
            for outcome in done if plan.scan_id else ():
                await session.execute(update(SymlinkProblem).where(
                    SymlinkProblem.scan_id == plan.scan_id, SymlinkProblem.path == outcome["path"]).values(
                    outcome="retargeted", outcome_reason=outcome["new_target"]))
            # the problem's life: re-targeted; a later scan says fixed, or back
            await record_many(session, [o["path"] for o in done], "retargeted")
            await session.commit()
    media_servers = await refresh_media_servers(tk, [o["path"] for o in done]) if done else None
    return {"batch": plan.token, "retargeted": len(done), "items": outcomes, "media_servers": media_servers}


def _undo_blocking(database_url: str, media_path: str, ids: list[int] | None, batch: str | None) -> list[dict]:
    engine = create_engine_sync(database_url)
    try:
        journal = SqlRetargetJournal(engine)
        return [o.as_dict() for o in undo_retargets(journal.undoable(ids=ids, batch=batch), journal=journal,
                                                    root=media_path, fs_timeout=FS_TIMEOUT)]
    finally:
        engine.dispose()


async def undo(tk: Toolkit, data: dict) -> dict:
    """Point re-targeted links back at their old targets: ``{"journal_ids": [...]}`` or
    ``{"batch": token}``."""
    ids, batch = data.get("journal_ids"), data.get("batch")
    if not ids and not (isinstance(batch, str) and batch):
        raise PluginError(400, _("give journal_ids or a batch to undo"))
    async with _lock(tk):
        outcomes = await asyncio.to_thread(_undo_blocking, tk.config.database_url, await _media_path(tk),
                                           ids or None, None if ids else batch)
    undone = [o for o in outcomes if o["outcome"] == "undone"]
    if undone:
        async with tk.sessions() as session:
            await session.execute(update(SymlinkProblem).where(
                SymlinkProblem.path.in_([o["path"] for o in undone]), SymlinkProblem.outcome == "retargeted")
                .values(outcome=None, outcome_reason=None))
            await record_many(session, [o["path"] for o in undone], "seen")  # an open problem again
            await session.commit()
    media_servers = await refresh_media_servers(tk, [o["path"] for o in undone]) if undone else None
    return {"undone": len(undone), "items": outcomes, "media_servers": media_servers}


async def journal_page(tk: Toolkit, *, state: str | None = "retargeted", page: int = 1, per_page: int = 50) -> dict:
    """The re-pointing journal, newest first."""
    conditions = [SymlinkRetarget.state == state] if state else []
    async with tk.sessions() as session:
        total = (await session.execute(select(func.count()).select_from(SymlinkRetarget).where(*conditions))
                 ).scalar_one()
        rows = (await session.execute(select(SymlinkRetarget).where(*conditions).order_by(SymlinkRetarget.id.desc())
                                      .offset((page - 1) * per_page).limit(per_page))).scalars().all()
    iso = lambda d: d.isoformat() + "Z" if d else None  # noqa: E731
    return {"page": page, "per_page": per_page, "total": total, "pages": max((total + per_page - 1) // per_page, 1),
            "items": [{"journal_id": r.id, "batch": r.batch, "scan_id": r.scan_id, "kind": r.kind, "path": r.path,
                       "old_target": r.old_target, "new_target": r.new_target, "state": r.state,
                       "retargeted_at": iso(r.retargeted_at), "undone_at": iso(r.undone_at), "error": r.error}
                      for r in rows]}
