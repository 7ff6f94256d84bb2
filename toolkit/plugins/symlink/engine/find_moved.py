"""The search for a set of broken links' files, once for all of them: where to look
(:func:`.retarget.search_roots`), which of those places answer (a mount found down is not
walked: its links are told so), one index of the wanted names (:func:`.retarget.build_index`)
and a proposal per link (:func:`.retarget.propose`). The web's "Look for moved files" and
``symlink retarget --find-moved`` both run it.

Pure and blocking; every filesystem call has a deadline.
"""
from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from .mounts import MountMonitor
from .mounttable import lexical_target
from .retarget import FS_TIMEOUT, FileIndex, Proposal, build_index, propose, search_roots
from .workers import CallTimeout, call_with_deadline

NOT_SEARCHED_DOWN = "the mount holding it is down: not searched"
NOT_SEARCHED_NOWHERE = "no folder of its path is left to search"
_BATCH = 256
_BROKEN_ERRNOS = (errno.ENOENT, errno.ENOTDIR)


@dataclass
class MovedSearch:
    proposals: list[Proposal]  # one per link, in the links' order
    index: FileIndex
    down: list[dict] = field(default_factory=list)  # {"mount_point", "reason"} of the places not searched

    def as_dict(self) -> dict[str, object]:
        return {"proposals": [p.as_dict() for p in self.proposals], "index": self.index.as_dict(),
                "down": self.down}


def find_moved(links: list[tuple[str, str]], monitor: MountMonitor, *, sizes: Mapping[str, int] | None = None,
               exclude: Iterable[str] = (), fs_timeout: float = FS_TIMEOUT) -> MovedSearch:
    """A proposal for each ``(link, target)``; ``sizes``: the size each lost target (absolute)
    had when known; ``exclude``: folders never searched (the library)."""
    sizes = sizes or {}
    absolute = [lexical_target(path, target) for path, target in links]
    roots = search_roots(sorted(set(absolute)), monitor)
    healthy, down = [], []
    for root in roots:
        health = monitor.health_of(root, force=True)
        if health.healthy:
            healthy.append(root)
        else:
            down.append({"mount_point": health.mount_point, "reason": health.reason})
    root_of = {target: root for root, targets in roots.items() for target in targets}
    names = {os.path.basename(target) for root in healthy for target in roots[root]}
    index = build_index(healthy, names, exclude=exclude, fs_timeout=fs_timeout)
    proposals = []
    for (path, target), lost in zip(links, absolute):
        root = root_of.get(lost)
        if root is None or root not in healthy:
            proposals.append(Proposal(path, target, None, NOT_SEARCHED_NOWHERE if root is None else NOT_SEARCHED_DOWN,
                                      0, sizes.get(lost)))
        else:
            proposals.append(propose(path, target, index, sizes.get(lost)))
    return MovedSearch(proposals, index, down)


def _broken_of(batch: list[str]) -> list[tuple[str, str]]:
    found = []
    for link in batch:
        try:
            target = os.readlink(link)
        except OSError:
            continue  # not a link (any more)
        try:
            os.stat(link)
        except OSError as exc:
            if exc.errno in _BROKEN_ERRNOS:  # not ENOTCONN & co.: a mount that cannot answer is no proof
                found.append((link, target))
    return found


def broken_links(links: Iterator[str], *, fs_timeout: float = FS_TIMEOUT) -> tuple[list[tuple[str, str]], str | None]:
    """The ``(link, target)`` of the links whose target is missing, read a batch at a time
    under a deadline, and why the reading stopped early (``None``: it did not)."""
    found: list[tuple[str, str]] = []
    while True:
        batch = list(itertools.islice(links, _BATCH))
        if not batch:
            return found, None
        try:
            found.extend(call_with_deadline(_broken_of, batch, timeout=fs_timeout))
        except CallTimeout:
            return found, f"the library did not answer within {fs_timeout:g}s"
