"""A moved mount (``/mnt/zurg/__all__`` → ``/mnt/remote/__all__``): every link of the library
whose target is under the old folder, pointed under the new one instead, only where that file
exists there. :func:`plan_prefix` makes the plan (nothing changes); :func:`.retarget.retarget_links`
applies it like a repair's proposals (journal first, atomic, confined, undoable).

Pure and blocking: every filesystem call has a deadline (the links are read a batch at a
time, each new target checked on its own).
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .mounttable import lexical_target
from .retarget import FS_TIMEOUT, SAMPLE, Change, written_like
from .workers import CallTimeout, call_with_deadline


def rewrite_prefix(target: str, old: str, new: str) -> str | None:
    """``target`` with the leading folder ``old`` replaced by ``new`` (whole components:
    ``/mnt/zurg2`` is not under ``/mnt/zurg``), else ``None``."""
    old, new = os.path.normpath(old), os.path.normpath(new)
    if target == old:
        return new
    if old == "/" or not target.startswith(old.rstrip("/") + "/"):
        return None
    return new.rstrip("/") + target[len(old.rstrip("/")):]


@dataclass
class PrefixPlan:
    old: str
    new: str
    changes: list[Change] = field(default_factory=list)
    examined: int = 0  # links read
    matching: int = 0  # links under ``old``
    missing: int = 0  # ... whose new target does not exist (left alone)
    missing_sample: list[str] = field(default_factory=list)
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self, sample: int = SAMPLE) -> dict[str, object]:
        return {"from": self.old, "to": self.new, "examined": self.examined, "matching": self.matching,
                "count": len(self.changes), "missing": self.missing, "missing_sample": self.missing_sample,
                "sample": [c.as_dict() for c in self.changes[:sample]], "stopped": self.stopped,
                "errors": self.errors[:20]}


def plan_prefix(links: Iterator[str], old: str, new: str, *, fs_timeout: float = FS_TIMEOUT,
                should_abort: Callable[[], bool] = lambda: False) -> PrefixPlan:
    """The links among ``links`` pointing under ``old`` whose target under ``new`` exists.
    A new target that does not answer in time stops the plan (the new mount hangs)."""
    plan = PrefixPlan(os.path.normpath(old), os.path.normpath(new))
    for link, target in _read_links(links, plan, fs_timeout):
        if should_abort():
            plan.stopped = "cancelled"
            break
        absolute = lexical_target(link, target)
        rewritten = rewrite_prefix(absolute, plan.old, plan.new)
        if rewritten is None:
            continue
        plan.matching += 1
        try:
            present = call_with_deadline(os.path.exists, rewritten, timeout=fs_timeout)
        except CallTimeout:
            plan.stopped = f"{rewritten} did not answer within {fs_timeout:g}s"
            break
        if not present:
            plan.missing += 1
            if len(plan.missing_sample) < SAMPLE:
                plan.missing_sample.append(link)
            continue
        plan.changes.append(Change(link, target, written_like(link, target, rewritten)))
    return plan


# ------------------------------------------------------------------------ applying

_READ_BATCH = 256  # links read (readlink) per deadlined call: the library is usually a local disk


def _readlinks(batch: list[str]) -> list[tuple[str, str | OSError]]:
    read: list[tuple[str, str | OSError]] = []
    for link in batch:
        try:
            read.append((link, os.readlink(link)))
        except OSError as exc:
            read.append((link, exc))
    return read


def _read_links(links: Iterator[str], plan: PrefixPlan, fs_timeout: float) -> Iterator[tuple[str, str]]:
    """(link, target) of each link, read a batch at a time under a deadline (a library on a
    filesystem that stopped answering stops the plan); unreadable ones go to ``plan.errors``."""
    batch: list[str] = []
    for link in itertools.chain(links, [None]):  # None: the end, read what is left
        if link is not None:
            batch.append(link)
            if len(batch) < _READ_BATCH:
                continue
        if not batch:
            break
        try:
            read = call_with_deadline(_readlinks, batch, timeout=fs_timeout)
        except CallTimeout:
            plan.stopped = f"the library did not answer within {fs_timeout:g}s"
            return
        batch = []
        for path, target in read:
            plan.examined += 1
            if isinstance(target, OSError):
                if len(plan.errors) < 100:
                    plan.errors.append(f"{path}: {target.strerror or target}")
                continue
            yield path, target
