"""From what one check observed to a plan: which downloads reached their strikes and age,
what is proposed for each, and which guards hold some back.

A plan entry is a plain dict (the CLI's JSON, the page, the database): ``app``,
``queue_id``, ``download_id``, ``title``, ``rule``, ``reason``, ``strikes``, ``action``,
``episode_ids`` (Sonarr), ``movie_id`` (Radarr) or ``album_ids`` and ``artist_id`` (Lidarr), plus ``protected: true`` for a protected
item, ``guard`` (why it is held back) and ``regrabbed`` (a release blocklisted before)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .classify import Finding
from .items import QueueItem

EXIT_OK, EXIT_ERROR, EXIT_PLANNED, EXIT_APPLIED, EXIT_GUARD = 0, 1, 2, 3, 4
REMOVING = {"remove", "remove_client", "blocklist", "blocklist_search"}


@dataclass
class Observation:
    item: QueueItem
    finding: Finding | None
    strikes: int
    first_seen: datetime
    regrabbed: bool = False

    def as_dict(self) -> dict:
        """A row of the Queue tab."""
        item = self.item
        return {"app": item.app, "queue_id": item.queue_id, "download_id": item.download_id,
                "title": item.title, "status": item.status, "state": item.tracked_state,
                "client": item.download_client, "size": item.size, "sizeleft": item.sizeleft,
                "rule": self.finding.rule if self.finding else None,
                "reason": self.finding.reason if self.finding else None,
                "strikes": self.strikes, "regrabbed": self.regrabbed}


def _age_minutes(observation: Observation, now: datetime) -> float:
    since = observation.item.added or observation.first_seen
    return (now - since).total_seconds() / 60


def _protected(item: QueueItem, settings, tag_labels: dict[int, str]) -> bool:
    labels = {tag_labels.get(t, "").lower() for t in item.tags}
    return bool(labels & settings.protected_tag_labels) or \
        (item.download_id.lower() in settings.protected_ids if item.download_id else False)


def _client_in_error(item: QueueItem, errors: list[str], clients: set[str]) -> str | None:
    """A health error about the download client: one naming this item's client, or one
    naming none of the clients in the queue (it may be about any of them)."""
    for message in errors:
        named = {c for c in clients if c and c.lower() in message.lower()}
        if not named or item.download_client in named:
            return message
    return None


def build_plan(observations: list[Observation], settings, *, now: datetime,
               tag_labels: dict[str, dict[int, str]], client_errors: dict[str, list[str]],
               mounts_down: list[dict]) -> list[dict]:
    """Entries for the downloads that reached ``settings.strikes`` and ``settings.min_age``,
    guards applied: protected items are ignored, nothing is removed while a mount is down or
    the *arr reports an error about the download client, and at most
    ``settings.max_removals_per_run`` removals per *arr."""
    entries: list[dict] = []
    removals: dict[str, int] = {}
    clients: dict[str, set[str]] = {}
    for o in observations:
        clients.setdefault(o.item.app, set()).add(o.item.download_client)
    for o in observations:
        item, finding = o.item, o.finding
        if finding is None or o.strikes < settings.strikes:
            continue
        if _age_minutes(o, now) < settings.min_age:
            continue
        entry = {"app": item.app, "queue_id": item.queue_id, "download_id": item.download_id,
                 "title": item.title, "rule": finding.rule, "reason": finding.reason,
                 "strikes": o.strikes, "action": settings.action_for(finding.rule),
                 "protected": False, "guard": None, "regrabbed": o.regrabbed}
        if item.app == "lidarr":
            entry["album_ids"] = list(item.album_ids)
            entry["artist_id"] = item.artist_id
        elif item.movie_id is not None:
            entry["movie_id"] = item.movie_id
        else:
            entry["episode_ids"] = list(item.episode_ids)
            entry["series_id"] = item.series_id
        if _protected(item, settings, tag_labels.get(item.app, {})):
            entry["protected"], entry["action"] = True, "ignore"
        elif entry["action"] in REMOVING:
            health = _client_in_error(item, client_errors.get(item.app, []),
                                      clients.get(item.app, set()))
            if mounts_down:
                entry["guard"] = "a mount is down: " + ", ".join(m["mount_point"] for m in mounts_down)
            elif health:
                entry["guard"] = f"{item.app} reports a download client error: {health}"
            elif removals.get(item.app, 0) >= settings.max_removals_per_run:
                entry["guard"] = f"removal cap reached ({settings.max_removals_per_run} per run)"
            else:
                removals[item.app] = removals.get(item.app, 0) + 1
        entries.append(entry)
    return entries


def actionable(entry: dict) -> bool:
    return entry["action"] != "ignore" and not entry["protected"] and not entry["guard"]


def exit_code(entries: list[dict], applied: list[dict], errors: list[str],
              held: bool = False) -> int:
    """0 nothing to do, 2 actions planned and not applied, 3 applied, 4 stopped by a guard
    (a protected item alone is not a guard), 1 an error and nothing else to report."""
    if held or any(e["guard"] for e in entries):
        return EXIT_GUARD
    if applied:
        return EXIT_APPLIED if any(a["ok"] for a in applied) else EXIT_ERROR
    if any(actionable(e) for e in entries):
        return EXIT_PLANNED
    return EXIT_ERROR if errors else EXIT_OK


def summary(plan: dict, applied: list[dict]) -> dict:
    """What a check (and its apply) reports: the task's result, the CLI's JSON."""
    return {"plan_id": plan["id"], "plan": plan["entries"], "applied": applied,
            "errors": plan["errors"], "held": plan["held"],
            "exit_code": exit_code(plan["entries"], applied, plan["errors"], bool(plan["held"]))}
