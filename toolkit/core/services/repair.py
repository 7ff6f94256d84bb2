"""Repair Sonarr / Radarr / Lidarr after links were removed from the library.

Two steps, usable separately::

    plan = await plan_repair(removed, services)        # reads only (GET requests)
    report = await execute_plan(plan, settings)         # sends the commands

or both at once with :func:`repair_after_cleanup`. A plugin may plan *before* it deletes
(while the *arr still lists the files) and execute after.

Policies (``RepairSettings.policy``):

``targeted`` (default)
    For each removed link find the *arr item (series / movie / artist) whose folder holds
    it, and the file records at that path; send ``RescanSeries``/``RescanMovie``/
    ``RescanFolders`` for exactly that item, wait for it to finish (so the *arr forgets
    the lost file), then ``EpisodeSearch`` / ``MoviesSearch`` / ``AlbumSearch`` for
    exactly the lost episodes / movie / albums. Unmonitored items are rescanned but not
    searched unless ``search_unmonitored``.
``rescan``
    Only the rescans of the affected items.
``global``
    The original script's behaviour, for parity: ``RescanSeries`` + ``MissingEpisodeSearch``
    and ``RescanMovie`` + ``MissingMoviesSearch`` (Lidarr: ``RescanFolders``), sent only
    when something was removed.
``off``
    Nothing.

A dry run sends no command (it still reads the libraries to show what *would* be sent),
unless ``rescan_after_dry_run`` asks for the original script's global rescan (rescans
only, no searches). Commands go one at a time, ``pace_seconds`` apart, each polled on
``/command/{id}`` until it ends; every outcome is recorded per item.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from toolkit.core.services.arr import ArrClient, CommandState
from toolkit.core.services.errors import ServiceError
from toolkit.core.services.pathmap import PathMapper, is_under
from toolkit.core.services.settings import RepairPolicy, RepairSettings, ServiceKind

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], Any]
AbortCheck = Callable[[], bool]

# Outcome of one item
PLANNED = "planned"          # dry run: what would be sent
SEARCHED = "searched"        # rescan done, search completed
RESCANNED = "rescanned"      # rescan done, nothing (else) to search
SKIPPED_UNMONITORED = "skipped_unmonitored"  # rescan done, search skipped: unmonitored
FAILED = "failed"            # a command failed, timed out or could not be sent
ABORTED = "aborted"          # the job was cancelled before this item was done

RESCAN_COMMAND = {ServiceKind.SONARR: ("RescanSeries", "seriesId"),
                  ServiceKind.RADARR: ("RescanMovie", "movieId"),
                  ServiceKind.LIDARR: ("RescanFolders", None)}
SEARCH_COMMAND = {ServiceKind.SONARR: ("EpisodeSearch", "episodeIds"),
                  ServiceKind.RADARR: ("MoviesSearch", "movieIds"),
                  ServiceKind.LIDARR: ("AlbumSearch", "albumIds")}
GLOBAL_COMMANDS = {ServiceKind.SONARR: ("RescanSeries", "MissingEpisodeSearch"),
                   ServiceKind.RADARR: ("RescanMovie", "MissingMoviesSearch"),
                   ServiceKind.LIDARR: ("RescanFolders",)}
ITEM_TYPE = {ServiceKind.SONARR: "series", ServiceKind.RADARR: "movie", ServiceKind.LIDARR: "artist"}


@dataclass(frozen=True)
class RemovedLink:
    """A link the cleanup removed: its path as the toolkit sees it, and its old target."""

    path: str
    target: str = ""


@dataclass
class ArrService:
    """One configured service: its client and the path mappings to reach its view."""

    client: ArrClient
    mapper: PathMapper = field(default_factory=PathMapper)

    @property
    def kind(self) -> ServiceKind:
        return self.client.kind


@dataclass
class CommandOutcome:
    name: str
    fields: dict
    command_id: int | None = None
    status: str = "not_sent"  # or the *arr's status: completed, failed, ... / "timeout", "error"
    result: str = ""
    message: str = ""


@dataclass
class ItemRepair:
    """Everything about one affected series / movie / artist (or a whole library for
    the global policy)."""

    service: str
    item_type: str  # series, movie, artist, library
    item_id: int | None
    title: str
    arr_path: str = ""
    links: list[str] = field(default_factory=list)
    search_ids: list[int] = field(default_factory=list)   # episodes / movies / albums to search
    skipped_ids: list[int] = field(default_factory=list)  # unmonitored ones left alone
    unmatched_links: list[str] = field(default_factory=list)  # inside the item, no file record
    monitored: bool = True
    outcome: str = PLANNED
    note: str = ""
    commands: list[CommandOutcome] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RepairPlan:
    items: list[ItemRepair]
    services: dict[str, ArrService]
    unmatched_links: list[str] = field(default_factory=list)  # in no service's library
    errors: list[dict] = field(default_factory=list)          # services that could not be read
    removed_count: int = 0


@dataclass
class RepairReport:
    policy: str
    dry_run: bool
    items: list[ItemRepair]
    unmatched_links: list[str]
    errors: list[dict]
    aborted: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and all(i.outcome != FAILED for i in self.items)

    def commands_sent(self) -> list[CommandOutcome]:
        return [c for item in self.items for c in item.commands if c.command_id is not None]

    def to_dict(self) -> dict:
        return {"policy": self.policy, "dry_run": self.dry_run, "aborted": self.aborted, "ok": self.ok,
                "items": [i.to_dict() for i in self.items], "unmatched_links": self.unmatched_links,
                "errors": self.errors}


# -- planning ---------------------------------------------------------------------------
async def plan_repair(removed: Iterable[RemovedLink | str], services: Sequence[ArrService], *,
                      policy: RepairPolicy | str = RepairPolicy.TARGETED,
                      search_unmonitored: bool = False) -> RepairPlan:
    """Work out which items each service must rescan / search. Sends only GET requests.

    A link belongs to the item whose folder (as the *arr sees it, after path mapping)
    holds it; a link to a whole folder covers every file record below it.
    """
    policy = RepairPolicy(policy)
    links = [r if isinstance(r, RemovedLink) else RemovedLink(str(r)) for r in removed]
    plan = RepairPlan(items=[], services={s.kind.value: s for s in services}, removed_count=len(links))
    if policy is RepairPolicy.OFF or not links:
        return plan
    if policy is RepairPolicy.GLOBAL:
        plan.items = [_global_item(s, links) for s in services]
        return plan
    claimed: set[str] = set()
    for service in services:
        try:
            items = await _plan_service(service, links, targeted=policy is RepairPolicy.TARGETED,
                                        search_unmonitored=search_unmonitored)
        except ServiceError as exc:
            plan.errors.append(exc.to_dict())
            continue
        plan.items.extend(items)
        claimed.update(link for item in items for link in item.links)
    plan.unmatched_links = [link.path for link in links if link.path not in claimed]
    return plan


def _global_item(service: ArrService, links: list[RemovedLink]) -> ItemRepair:
    return ItemRepair(service=service.kind.value, item_type="library", item_id=None,
                      title=f"every {ITEM_TYPE[service.kind]}", links=[link.path for link in links],
                      commands=[CommandOutcome(name, {}) for name in GLOBAL_COMMANDS[service.kind]])


async def _plan_service(service: ArrService, links: list[RemovedLink], *, targeted: bool,
                        search_unmonitored: bool) -> list[ItemRepair]:
    client = service.client
    owners = await _library(client)
    by_item: dict[int, tuple[dict, list[tuple[str, str]]]] = {}
    for link in links:
        arr_path = service.mapper.to_arr(link.path)
        owner = _owner(owners, arr_path)
        if owner is not None:
            by_item.setdefault(owner["id"], (owner, []))[1].append((link.path, arr_path))
    planned = []
    for owner, item_links in sorted(by_item.values(), key=lambda entry: _title(entry[0]).lower()):
        item = ItemRepair(service=service.kind.value, item_type=ITEM_TYPE[service.kind],
                          item_id=owner["id"], title=_title(owner), arr_path=owner["path"],
                          links=[toolkit for toolkit, _ in item_links],
                          monitored=bool(owner.get("monitored", True)))
        if targeted:
            await _find_search_ids(client, owner, item, item_links)
            if not item.monitored and not search_unmonitored:
                item.skipped_ids, item.search_ids = item.search_ids + item.skipped_ids, []
            elif search_unmonitored:
                item.search_ids, item.skipped_ids = sorted(item.search_ids + item.skipped_ids), []
        item.commands.append(_rescan_command(service.kind, owner))
        if item.search_ids:
            name, key = SEARCH_COMMAND[service.kind]
            item.commands.append(CommandOutcome(name, {key: item.search_ids}))
        planned.append(item)
    return planned


async def _library(client: ArrClient) -> list[dict]:
    if client.kind is ServiceKind.SONARR:
        return await client.series()
    if client.kind is ServiceKind.RADARR:
        return await client.movies()
    return await client.artists()


def _title(owner: dict) -> str:
    return str(owner.get("title") or owner.get("artistName") or owner.get("path") or owner["id"])


def _owner(owners: list[dict], arr_path: str) -> dict | None:
    """The item whose folder holds ``arr_path`` (the deepest one if folders nest)."""
    holders = [o for o in owners if o.get("path") and is_under(arr_path, o["path"])]
    return max(holders, key=lambda o: len(o["path"]), default=None)


def _rescan_command(kind: ServiceKind, owner: dict) -> CommandOutcome:
    name, key = RESCAN_COMMAND[kind]
    if kind is ServiceKind.LIDARR:  # Lidarr has no RescanArtist: rescan the artist's folder
        return CommandOutcome(name, {"folders": [owner["path"]], "artistIds": [owner["id"]]})
    return CommandOutcome(name, {key: owner["id"]})


async def _find_search_ids(client: ArrClient, owner: dict, item: ItemRepair,
                           item_links: list[tuple[str, str]]) -> None:
    """Fill ``search_ids`` / ``skipped_ids`` / ``unmatched_links`` from the file records."""
    kind = client.kind
    if kind is ServiceKind.SONARR:
        files = await client.episode_files(owner["id"])
    elif kind is ServiceKind.RADARR:
        files = await client.movie_files(owner["id"])
    else:
        files = await client.track_files(owner["id"])
    lost_file_ids: set[int] = set()
    for toolkit_path, arr_path in item_links:
        hits = [f["id"] for f in files if f.get("path") and is_under(f["path"], arr_path)]
        if hits:
            lost_file_ids.update(hits)
        else:
            item.unmatched_links.append(toolkit_path)
    if not lost_file_ids:
        item.note = "no file record matches the removed links; rescan only"
        return
    if kind is ServiceKind.RADARR:
        item.search_ids.append(owner["id"])
        return
    if kind is ServiceKind.SONARR:
        episodes = [e for file_id in sorted(lost_file_ids)
                    for e in await client.episodes(episode_file_id=file_id)]
        for episode in sorted(episodes, key=lambda e: (e["seasonNumber"], e["episodeNumber"])):
            (item.search_ids if episode.get("monitored", True) else item.skipped_ids).append(episode["id"])
    else:
        albums = sorted({t["albumId"] for t in await client.tracks(owner["id"])
                         if t.get("trackFileId") in lost_file_ids})
        item.search_ids.extend(albums)


# -- execution --------------------------------------------------------------------------
async def execute_plan(plan: RepairPlan, settings: RepairSettings | None = None, *,
                       dry_run: bool = False, on_progress: ProgressCallback | None = None,
                       should_abort: AbortCheck | None = None) -> RepairReport:
    """Send the plan's commands one at a time, paced, polling each to its end."""
    settings = settings or RepairSettings()
    report = RepairReport(policy=settings.policy.value, dry_run=dry_run, items=plan.items,
                          unmatched_links=plan.unmatched_links, errors=list(plan.errors))
    if dry_run:
        if settings.rescan_after_dry_run and settings.policy is not RepairPolicy.OFF:
            report.items = [ItemRepair(service=s.kind.value, item_type="library", item_id=None,
                                       title=f"every {ITEM_TYPE[s.kind]} (rescan after dry run)",
                                       commands=[CommandOutcome(GLOBAL_COMMANDS[s.kind][0], {})])
                            for s in plan.services.values()]
        else:
            return report
    runner = _Runner(plan.services, settings, on_progress, should_abort,
                     total=sum(len(i.commands) for i in report.items))
    for item in report.items:
        await runner.run_item(item)
    report.aborted = runner.aborted
    await runner.progress("done")
    return report


async def repair_after_cleanup(removed: Iterable[RemovedLink | str], services: Sequence[ArrService],
                               settings: RepairSettings | None = None, *, dry_run: bool = False,
                               on_progress: ProgressCallback | None = None,
                               should_abort: AbortCheck | None = None) -> RepairReport:
    """Plan and execute in one go (see the module docstring)."""
    settings = settings or RepairSettings()
    plan = await plan_repair(removed, services, policy=settings.policy,
                             search_unmonitored=settings.search_unmonitored)
    return await execute_plan(plan, settings, dry_run=dry_run, on_progress=on_progress,
                              should_abort=should_abort)


class _Runner:
    def __init__(self, services: dict[str, ArrService], settings: RepairSettings,
                 on_progress: ProgressCallback | None, should_abort: AbortCheck | None, total: int):
        self.services = services
        self.settings = settings
        self.on_progress = on_progress
        self.should_abort = should_abort or (lambda: False)
        self.total = total
        self.done = 0
        self.sent_any = False
        self.aborted = False

    async def progress(self, message: str) -> None:
        if self.on_progress is not None:
            result = self.on_progress(self.done, self.total, message)
            if asyncio.iscoroutine(result):
                await result

    async def run_item(self, item: ItemRepair) -> None:
        client = self.services[item.service].client
        for index, command in enumerate(item.commands):
            if self.aborted or self.should_abort():
                self.aborted = True
                item.outcome = ABORTED
                self.done += len(item.commands) - index
                return
            await self._send(client, command)
            self.done += 1
            if self.aborted:
                item.outcome = ABORTED
                self.done += len(item.commands) - index - 1
                return
            await self.progress(f"{item.service} {item.title}: {command.name} {command.status}")
            if command.status != "completed" or command.result == "unsuccessful":
                item.outcome = FAILED
                self.done += len(item.commands) - index - 1  # a search after a failed rescan is pointless
                return
        if len(item.commands) > 1:  # a rescan, then a search
            item.outcome = SEARCHED
        elif item.skipped_ids:
            item.outcome = SKIPPED_UNMONITORED
        else:
            item.outcome = RESCANNED

    async def _send(self, client: ArrClient, command: CommandOutcome) -> None:
        if self.sent_any and self.settings.pace_seconds:
            await asyncio.sleep(self.settings.pace_seconds)  # the *arr's SQLite locks under bursts
        self.sent_any = True
        try:
            state = await client.send_command(command.name, **command.fields)
            command.command_id = state.id
            state = await client.wait_for_command(state.id, poll_interval=self.settings.poll_interval,
                                                  timeout=self.settings.command_timeout,
                                                  should_abort=self.should_abort)
        except ServiceError as exc:
            command.status, command.message = "error", exc.message
            log.warning("repair command %s failed: %s", command.name, exc.message)
            return
        self._record(command, state)

    def _record(self, command: CommandOutcome, state: CommandState) -> None:
        command.status, command.result, command.message = state.status, state.result, state.message
        if state.finished:
            return
        if self.should_abort():
            self.aborted = True
            command.message = "stopped waiting: the job was cancelled"
        else:
            command.status = "timeout"
            command.message = f"still {state.status} after {self.settings.command_timeout:g} s"
