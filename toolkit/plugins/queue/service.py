"""Checks, plans, actions and undo: the engine fed with what the *arrs say, kept in the
database. No HTTP types here; the web layer, the task and the CLI all call these functions.

One check at a time per toolkit (strikes would otherwise count twice).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta

from sqlalchemy import delete, desc, insert, select, update

from toolkit.api import (N_, PluginError, ServiceError, Toolkit, arr_client, arr_connections,
                         mounts_down, utcnow)
from toolkit.api import gettext as _

from .engine.classify import Previous, classify, next_strikes
from .engine.items import group_records
from .engine.plan import Observation, actionable, build_plan
from .models import items, journal, plans

log = logging.getLogger(__name__)

NAMESPACE = "queue"
KEEP_PLANS = 50
PLAN_TTL = timedelta(hours=1)
BLOCKLISTING = {"blocklist", "blocklist_search"}
SEARCHES = {"sonarr": ("EpisodeSearch", "episodeIds", "episode_ids"),
            "radarr": ("MoviesSearch", "movieIds", "movie_id"),
            "lidarr": ("AlbumSearch", "albumIds", "album_ids")}


def _lock(tk: Toolkit) -> asyncio.Lock:
    return tk.services.setdefault("queue:lock", asyncio.Lock())


async def _connections(tk: Toolkit) -> dict:
    return {c.kind.value: c for c in await arr_connections(tk)}


async def _previous(tk: Toolkit, app: str) -> dict[str, tuple[Previous, object]]:
    async with tk.sessions() as session:
        rows = (await session.execute(select(items).where(items.c.app == app))).mappings()
        return {r["key"]: (Previous(r["problem"], r["state"], float(r["sizeleft"]), r["strikes"],
                                    r["checked_at"]), r["first_seen"]) for r in rows}


async def _blocklisted_titles(tk: Toolkit) -> set[tuple[str, str]]:
    query = select(journal.c.app, journal.c.title).where(
        journal.c.action.in_(BLOCKLISTING), journal.c.ok.is_(True), journal.c.undone_at.is_(None))
    async with tk.sessions() as session:
        return {(app, title) for app, title in (await session.execute(query)).all()}


async def _remember(tk: Toolkit, app: str, observed: list[Observation], now) -> None:
    """Replace the app's remembered downloads by those just seen (the others left)."""
    async with tk.sessions() as session:
        await session.execute(delete(items).where(items.c.app == app))
        if observed:
            await session.execute(insert(items), [{
                "app": app, "key": o.item.key, "queue_id": o.item.queue_id, "title": o.item.title,
                "problem": o.finding.rule if o.finding else None, "state": o.item.state,
                "sizeleft": int(o.item.sizeleft), "strikes": o.strikes,
                "first_seen": o.first_seen, "checked_at": now} for o in observed])
        await session.commit()


async def check(tk: Toolkit, *, source: str = "web") -> dict:
    """Read every configured *arr's queue, count strikes and save a plan (nothing is done)."""
    async with _lock(tk):
        return await _check(tk, source)


async def _check(tk: Toolkit, source: str) -> dict:
    settings = await tk.settings.get(NAMESPACE)
    now = utcnow()
    errors: list[str] = []
    connections = await _connections(tk)
    if not connections:
        errors.append("no Sonarr, Radarr or Lidarr is configured (Symlink page > Settings, "
                      "or TOOLKIT_SONARR__URL and TOOLKIT_SONARR__API_KEY)")
    down = await mounts_down(tk)
    blocklisted = await _blocklisted_titles(tk)
    observations: list[Observation] = []
    tag_labels: dict[str, dict[int, str]] = {}
    client_errors: dict[str, list[str]] = {}
    for app, connection in connections.items():
        client = arr_client(tk, connection, retries=1, backoff=0.5)
        try:
            records = await client.queue()
            health = await client.health()
            tags = await client.tags()
            downloads = group_records(app, records)
            tag_labels[app] = {int(t["id"]): str(t.get("label") or "") for t in tags}
            client_errors[app] = [str(h.get("message") or "") for h in health
                                  if h.get("type") == "error"
                                  and str(h.get("source") or "").startswith("DownloadClient")]
        except ServiceError as exc:  # this *arr is out: no strike for its items, others go on
            errors.append(exc.message)
            continue
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            errors.append(f"{connection.kind.app_name}: unexpected answer ({exc!r:.100})")
            continue
        previous = await _previous(tk, app)
        seen = []
        for item in downloads:
            prev, first_seen = previous.get(item.key, (None, now))
            finding = classify(item, prev, settings, now)
            if down or item.status == "downloadClientUnavailable":
                # an outage is nobody's strike: keep what the last real check counted
                strikes = prev.strikes if prev and finding and prev.problem == finding.rule else 0
            else:
                strikes = next_strikes(item, finding, prev)
            seen.append(Observation(item, finding, strikes, first_seen,
                                    regrabbed=(app, item.title) in blocklisted))
        if not down:
            await _remember(tk, app, seen, now)
        observations += seen
    entries = build_plan(observations, settings, now=now, tag_labels=tag_labels,
                         client_errors=client_errors, mounts_down=down)
    held = None
    if down and any(o.finding for o in observations):
        held = "no strikes counted: a mount is down (" + ", ".join(
            f"{m['mount_point']}: {m['reason']}" for m in down) + ")"
    plan = await _save_plan(tk, source, now, [o.as_dict() for o in observations], entries,
                            errors, held)
    await _notify_check(tk, plan)
    return plan


async def _save_plan(tk, source, now, observed, entries, errors, held) -> dict:
    values = {"created_at": now, "source": source, "token": secrets.token_urlsafe(24),
              "observed": observed, "entries": entries, "errors": errors, "held": held}
    async with tk.sessions() as session:
        result = await session.execute(insert(plans).values(**values))
        plan_id = result.inserted_primary_key[0]
        old = (await session.execute(select(plans.c.id).order_by(desc(plans.c.id))
                                     .offset(KEEP_PLANS))).scalars().all()
        if old:
            await session.execute(delete(plans).where(plans.c.id.in_(old)))
        await session.commit()
    return {"id": plan_id, **values, "applied_at": None}


async def latest_plan(tk: Toolkit) -> dict | None:
    async with tk.sessions() as session:
        row = (await session.execute(select(plans).order_by(desc(plans.c.id)).limit(1))).mappings().first()
        return dict(row) if row else None


async def _notify_check(tk: Toolkit, plan: dict) -> None:
    todo = [e for e in plan["entries"] if actionable(e)]
    guarded = [e for e in plan["entries"] if e["guard"]]
    async with tk.sessions() as session:
        before = (await session.execute(select(plans.c.entries).where(plans.c.id < plan["id"])
                                        .order_by(desc(plans.c.id)).limit(1))).scalar()
    known = {(e["app"], e["download_id"], e["action"], e["guard"]) for e in before or []}
    if not [e for e in todo + guarded if (e["app"], e["download_id"], e["action"], e["guard"]) not in known]:
        return  # nothing new since the last check: say it once
    if guarded:
        await tk.notifier.send("guard", _("Queue: %(n)s download(s) held back", n=len(guarded)),
                               "\n".join(f"{e['title']}: {e['guard']}" for e in guarded[:10]),
                               link="/queue?tab=plan")
    elif todo:
        await tk.notifier.send("problems", _("Queue: %(n)s download(s) to clean up", n=len(todo)),
                               "\n".join(f"{e['title']}: {e['rule']} -> {e['action']}" for e in todo[:10]),
                               link="/queue?tab=plan")


async def apply(tk: Toolkit, plan_id: int, token: str) -> list[dict]:
    """Carry out exactly the actions of plan ``plan_id``; ``token`` is the one the plan was
    shown with. A plan is applied once, within :data:`PLAN_TTL`."""
    async with _lock(tk):
        async with tk.sessions() as session:
            row = (await session.execute(select(plans).where(plans.c.id == plan_id))).mappings().first()
            if row is None:
                raise PluginError(404, _("no plan %(id)s", id=plan_id))
            if not secrets.compare_digest(str(token), row["token"]):
                raise PluginError(403, N_("this token does not belong to this plan"), code="bad_token")
            if utcnow() - row["created_at"] > PLAN_TTL:
                raise PluginError(409, N_("this plan is too old: run a new check"), code="plan_expired")
            claimed = await session.execute(update(plans).where(
                plans.c.id == plan_id, plans.c.applied_at.is_(None)).values(applied_at=utcnow()))
            await session.commit()
            if claimed.rowcount != 1:
                raise PluginError(409, N_("this plan was applied already"), code="plan_applied")
        return await _apply(tk, plan_id, [e for e in row["entries"] if actionable(e)])


async def _apply(tk: Toolkit, plan_id: int, entries: list[dict]) -> list[dict]:
    settings = await tk.settings.get(NAMESPACE)
    connections = await _connections(tk)
    applied: list[dict] = []
    for app in dict.fromkeys(e["app"] for e in entries):
        todo = [e for e in entries if e["app"] == app]
        connection = connections.get(app)
        if connection is None:
            applied += [{**e, "ok": False, "answer": f"{app} is no longer configured"} for e in todo]
            continue
        client = arr_client(tk, connection, retries=1, backoff=0.5)
        try:
            current = await client.queue()
        except ServiceError as exc:
            applied += [{**e, "ok": False, "answer": exc.message} for e in todo]
            continue
        budget = {"searches": 0}
        for entry in todo:
            applied.append({**entry, **await _act(client, entry, current, settings, budget)})
    await _journal(tk, plan_id, applied)
    done = [a for a in applied if a["ok"]]
    if done:
        async with tk.sessions() as session:  # acted upon: a re-grab starts from zero
            for a in done:
                await session.execute(delete(items).where(
                    items.c.app == a["app"], items.c.key == (a["download_id"] or f"queue:{a['queue_id']}")))
            await session.commit()
        await tk.notifier.send("deleted", _("Queue: %(n)s download(s) cleaned up", n=len(done)),
                               "\n".join(f"{a['title']}: {a['action']}" for a in done[:10]),
                               link="/queue?tab=journal")
    return applied


def _current_id(entry: dict, current: list[dict]) -> int | None:
    for record in current:
        if entry["download_id"] and record.get("downloadId") == entry["download_id"]:
            return int(record["id"])
        if not entry["download_id"] and int(record["id"]) == entry["queue_id"]:
            return int(record["id"])
    return None


def search_of(entry: dict) -> tuple[str, dict] | None:
    """The command searching exactly the entry's episodes, movie or albums, if it has any."""
    name, field, key = SEARCHES.get(entry["app"], (None, None, None))
    if name is None:
        return None
    ids = entry.get(key)
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    return (name, {field: ids}) if ids else None


async def _act(client, entry: dict, current: list[dict], settings, budget: dict) -> dict:
    action = entry["action"]
    queue_id = _current_id(entry, current)
    if queue_id is None:
        return {"ok": False, "answer": "no longer in the queue: nothing done", "blocklist_id": None}
    try:
        await client.remove_from_queue(queue_id, remove_from_client=action != "remove",
                                       blocklist=action in BLOCKLISTING)
    except ServiceError as exc:
        return {"ok": False, "answer": exc.message, "blocklist_id": None}
    # the removal is done: what follows can only add to the answer
    notes = ["removed from the queue" + ("" if action == "remove" else " and the client")]
    blocklist_id = None
    try:
        if action in BLOCKLISTING:
            blocklist_id = await _find_blocklist_id(client, entry)
            notes.append(f"blocklisted (entry {blocklist_id})" if blocklist_id else
                         "blocklisted (its entry was not found: no undo)")
        if action == "blocklist_search":
            notes.append(await _search(client, entry, settings, budget))
    except ServiceError as exc:
        notes.append(f"then: {exc.message}")
    return {"ok": True, "answer": "; ".join(notes), "blocklist_id": blocklist_id}


async def _find_blocklist_id(client, entry: dict) -> int | None:
    filters = {}
    if entry.get("movie_id"):
        filters["movieIds"] = [entry["movie_id"]]
    elif entry.get("series_id"):
        filters["seriesIds"] = [entry["series_id"]]
    page = await client.blocklist_page(**filters)
    for record in page.get("records") or []:
        if record.get("sourceTitle") == entry["title"]:
            return int(record["id"])
    return None


async def _search(client, entry: dict, settings, budget: dict) -> str:
    command = search_of(entry)
    if command is None:
        return "no search: no episode, movie or album is known for it"
    if budget["searches"] >= settings.max_searches_per_run:
        return f"search not sent: the budget of {settings.max_searches_per_run} per run is spent"
    if budget["searches"]:
        await asyncio.sleep(settings.search_pace_seconds)
    budget["searches"] += 1
    name, fields = command
    state = await client.send_command(name, **fields)
    return f"{name} sent (command {state.id})"


async def _journal(tk: Toolkit, plan_id: int | None, applied: list[dict]) -> None:
    if not applied:
        return
    now = utcnow()
    async with tk.sessions() as session:
        for a in applied:
            result = await session.execute(insert(journal).values(
                at=now, plan_id=plan_id, app=a["app"], queue_id=a["queue_id"],
                download_id=a["download_id"], title=a["title"], rule=a["rule"],
                reason=a.get("reason") or "", strikes=a["strikes"], action=a["action"],
                episode_ids=a.get("episode_ids") or [], movie_id=a.get("movie_id"),
                series_id=a.get("series_id"), album_ids=a.get("album_ids"),
                artist_id=a.get("artist_id"), ok=a["ok"], answer=a["answer"],
                blocklist_id=a.get("blocklist_id")))
            a["journal_id"] = result.inserted_primary_key[0]
        await session.commit()


async def journal_rows(tk: Toolkit, limit: int = 200) -> list[dict]:
    async with tk.sessions() as session:
        rows = await session.execute(select(journal).order_by(desc(journal.c.id)).limit(limit))
        return [dict(r) for r in rows.mappings()]


async def undo(tk: Toolkit, journal_id: int) -> dict:
    """Take a release off the blocklist (``DELETE blocklist/{id}``) and search its episodes,
    movie or albums again."""
    async with tk.sessions() as session:
        row = (await session.execute(select(journal).where(journal.c.id == journal_id))).mappings().first()
    if row is None:
        raise PluginError(404, _("no journal entry %(id)s", id=journal_id))
    if row["undone_at"] is not None:
        raise PluginError(409, N_("this action was undone already"), code="undone")
    if not row["ok"] or row["action"] not in BLOCKLISTING or not row["blocklist_id"]:
        raise PluginError(409, N_("nothing to undo: no blocklist entry was made"), code="not_undoable")
    connection = (await _connections(tk)).get(row["app"])
    if connection is None:
        raise PluginError(409, _("%(app)s is not configured", app=row['app']), code="not_configured")
    client = arr_client(tk, connection, retries=1, backoff=0.5)
    entry = dict(row)
    try:
        try:
            await client.delete_blocklist(row["blocklist_id"])
            notes = [f"blocklist entry {row['blocklist_id']} removed"]
        except ServiceError as exc:
            if exc.status_code != 404:
                raise
            notes = [f"blocklist entry {row['blocklist_id']} was already gone"]
        command = search_of(entry)
        if command is not None:
            state = await client.send_command(command[0], **command[1])
            notes.append(f"{command[0]} sent (command {state.id})")
    except ServiceError as exc:
        raise PluginError(502, exc.message, code="service_error") from None
    answer = "; ".join(notes)
    async with tk.sessions() as session:
        await session.execute(update(journal).where(journal.c.id == journal_id)
                              .values(undone_at=utcnow(), undo_answer=answer))
        await session.commit()
    return {"id": journal_id, "undone": True, "answer": answer}
