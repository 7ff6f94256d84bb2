"""Repair by re-targeting: a BROKEN link whose file is still on the mount, under another
folder (zurg renamed the release folder, the mount moved), is pointed at the file again
instead of being deleted and re-downloaded.

- :func:`build_index` walks the folders where the lost files may be now, once for all the
  links being repaired, and keeps only the entries whose name is wanted (a name → (path,
  size) index). Every listing and ``stat`` has a deadline; the walk has a budget of files
  and of time, and says when it stopped early.
- :func:`propose` turns each broken link into a proposal "re-point old → new" when exactly
  one file of the same name (and the same size, when the old size is known) is found.
- :mod:`.moved_mount` is the bulk form for a moved mount: every link whose target starts
  with ``old`` gets ``new`` instead, only when the new target exists.
- :func:`retarget_links` applies changes: re-check, journal *before*, then replace the link
  atomically (a new link beside it renamed over it) through directory descriptors
  (:func:`.deletion.open_parent`), so a folder swapped for a link stops it.
  :func:`undo_retargets` puts the old targets back from the journal.

Pure and blocking: no database (the journal is handed in), no HTTP; callers run it off the
event loop.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Protocol

from .deletion import NotConfined, check_link_at, link_changed, open_parent
from .mounts import MountMonitor
from .mounttable import LOCAL_FSTYPES, is_under, lexical_target
from .workers import CallTimeout, call_with_deadline

FS_TIMEOUT = 10.0
INDEX_MAX_SECONDS = 120.0
INDEX_MAX_ENTRIES = 2_000_000  # directory entries looked at, all folders together
INDEX_MAX_DEPTH = 6  # below a search root: __all__/Release/Season 1/file.mkv is 3
SAMPLE = 20


# ------------------------------------------------------------------------ the file index

@dataclass
class FileIndex:
    """Files of the wanted names under ``roots``: name → [(path, size)]."""

    roots: list[str]
    by_name: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    entries: int = 0
    folders: int = 0
    stopped: str | None = None  # why the walk ended early (its answers may be incomplete)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"roots": self.roots, "entries": self.entries, "folders": self.folders,
                "stopped": self.stopped, "errors": self.errors[:20]}


def _list(folder: str) -> list[tuple[str, str, bool, bool]]:
    """(name, path, is a real folder, is a regular file) of each entry (no link followed)."""
    with os.scandir(folder) as entries:
        return [(e.name, e.path, e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False))
                for e in entries]


def build_index(roots: Iterable[str], names: set[str], *, exclude: Iterable[str] = (),
                fs_timeout: float = FS_TIMEOUT, max_seconds: float = INDEX_MAX_SECONDS,
                max_entries: int = INDEX_MAX_ENTRIES, max_depth: int = INDEX_MAX_DEPTH,
                should_abort: Callable[[], bool] = lambda: False) -> FileIndex:
    """Walk ``roots`` (not into ``exclude``: the library itself) for files named in
    ``names``. A folder that does not answer within ``fs_timeout`` stops the walk (a mount
    that hangs must not be walked on); so do the time and entry budgets."""
    wanted = sorted({os.path.normpath(r) for r in roots})
    # a root inside another is walked with it (else its files would be found twice)
    index = FileIndex(roots=[r for r in wanted if not any(o != r and is_under(r, o) for o in wanted)])
    excluded = [os.path.normpath(e) for e in exclude]
    started = time.monotonic()
    stack = [(root, 0) for root in index.roots]
    while stack:
        if should_abort():
            index.stopped = "cancelled"
            break
        if time.monotonic() - started > max_seconds:
            index.stopped = f"the search took more than {max_seconds:g}s"
            break
        folder, depth = stack.pop()
        try:
            entries = call_with_deadline(_list, folder, timeout=fs_timeout)
        except CallTimeout:
            index.stopped = f"{folder} did not answer within {fs_timeout:g}s"
            break
        except OSError as exc:
            if len(index.errors) < 100:
                index.errors.append(f"{folder}: {exc.strerror or exc}")
            continue
        index.folders += 1
        for name, path, is_dir, is_file in entries:
            index.entries += 1
            if is_dir and depth + 1 < max_depth and not any(is_under(path, e) for e in excluded):
                stack.append((path, depth + 1))
            elif is_file and name in names:
                try:
                    size = call_with_deadline(os.stat, path, timeout=fs_timeout).st_size
                except (CallTimeout, OSError):
                    size = -1  # listed but not answering: still a candidate, size unknown
                index.by_name.setdefault(name, []).append((path, size))
        if index.entries >= max_entries:
            index.stopped = f"more than {max_entries} entries under {', '.join(index.roots)}"
            break
    return index


def search_roots(targets: Iterable[str], monitor: MountMonitor) -> dict[str, list[str]]:
    """Where to look for each lost target: the mount it lived on when that is a FUSE or
    network mount (zurg shows one file under several folders), else the nearest folder
    holding its release folder that still exists (on a local disk). Returns
    search root → targets."""
    roots: dict[str, list[str]] = {}
    for target in targets:
        mount = monitor.mount_of(target)
        if mount.path != "/" and mount.fstype not in LOCAL_FSTYPES:
            root = mount.path
        else:
            # from the folder holding the release folders (the release's own folder may
            # still be there, with the file gone from it), up to the first that exists
            root = os.path.dirname(os.path.dirname(target))
            while root not in ("/", "") and not _exists(root):
                root = os.path.dirname(root)
            if root in ("/", ""):
                continue  # never walk the whole machine
        roots.setdefault(root, []).append(target)
    return roots


def _exists(path: str, timeout: float = FS_TIMEOUT) -> bool:
    try:
        return call_with_deadline(os.path.isdir, path, timeout=timeout)
    except CallTimeout:
        return False


# ------------------------------------------------------------------------ proposals

@dataclass(frozen=True)
class Change:
    """Re-point the link ``path`` from ``old_target`` to ``new_target`` (as written in the link)."""

    path: str
    old_target: str
    new_target: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Proposal:
    path: str
    old_target: str
    new_target: str | None  # None: no single match
    reason: str  # why (or why not)
    candidates: int = 0
    size: int | None = None  # the size the old file had, when known

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def change(self) -> Change | None:
        return Change(self.path, self.old_target, self.new_target) if self.new_target else None


def written_like(link: str, old_target: str, new_absolute: str) -> str:
    """The new target written as the old one was: relative to the link's folder if it was."""
    if old_target.startswith("/"):
        return new_absolute
    return os.path.relpath(new_absolute, os.path.dirname(os.path.abspath(link)))


def _shared(a: str, b: str) -> tuple[int, int]:
    """How many trailing path components ``a`` and ``b`` share (the file name included,
    a season folder...), then how many leading ones (zurg shows one file under ``__all__``,
    ``shows``, ``movies``...: the copy under the old target's own top folder wins)."""
    a_parts, b_parts = a.split("/"), b.split("/")
    tail = head = 0
    for x, y in zip(reversed(a_parts), reversed(b_parts)):
        if x != y:
            break
        tail += 1
    for x, y in zip(a_parts, b_parts):
        if x != y:
            break
        head += 1
    return tail, head


def propose(link: str, old_target: str, index: FileIndex, size: int | None = None) -> Proposal:
    """One broken link's proposal from ``index``. Several files of that name (and size)
    are told apart by the path components they share with the old target, at the end (a
    season folder) then at the start (zurg's ``__all__``): see :func:`_shared`. Still a tie,
    nothing is proposed: the user decides."""
    absolute = lexical_target(link, old_target)
    name = os.path.basename(absolute)
    found = [(path, found_size) for path, found_size in index.by_name.get(name, []) if path != absolute]
    if size:
        same = [c for c in found if c[1] == size]
        if not same:
            why = (f"{len(found)} file(s) named {name}, none of {size} bytes" if found
                   else f"no file named {name}")
            return Proposal(link, old_target, None, why, len(found), size)
        found = same
    if not found:
        return Proposal(link, old_target, None, f"no file named {name}" + (
            f" (the search stopped early: {index.stopped})" if index.stopped else ""), 0, size)
    best = max(_shared(path, absolute) for path, _ in found)
    chosen = [path for path, _ in found if _shared(path, absolute) == best]
    if len(chosen) > 1:
        return Proposal(link, old_target, None, f"{len(chosen)} files named {name} could be it", len(found), size)
    reason = "same name and size" if size else "same name (the old size is not known)"
    return Proposal(link, old_target, written_like(link, old_target, chosen[0]), reason, len(found), size)


class RetargetJournal(Protocol):
    """Where re-pointings are written before they happen (``service.retarget_journal``)."""

    def record_pending(self, *, path: str, old_target: str, new_target: str, kind: str,
                       batch: str, scan_id: str | None) -> int: ...

    def mark(self, entry_id: int, state: str, *, error: str | None = None) -> None: ...


@dataclass(frozen=True)
class RetargetOutcome:
    path: str
    old_target: str
    new_target: str
    outcome: str  # retargeted, skipped, failed (undo: undone)
    reason: str | None = None
    journal_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def replace_confined(root: str, path: str, expected: str, new_target: str) -> None:
    """Point the link ``path`` (confined to ``root``) at ``new_target`` if it still points
    at ``expected``: a new link is made beside it and renamed over it (atomic: the path is
    never missing). Raises :class:`NotConfined` when something else is there."""
    fd, name = open_parent(root, path)
    try:
        check_link_at(fd, name, expected, "re-pointing")
        temporary = f".{name[:200]}.retarget-{secrets.token_hex(4)}"
        os.symlink(new_target, temporary, dir_fd=fd)
        try:
            os.rename(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            os.unlink(temporary, dir_fd=fd)
            raise
    finally:
        os.close(fd)


def _why_not(change: Change, monitor: MountMonitor, require_broken: bool) -> str | None:
    """``None`` when the change may go ahead now (the link unchanged, the new file there, its
    mount answering, and for a repair the old target still missing)."""
    changed = link_changed(change.path, change.old_target, gone="the link is gone")
    if changed:
        return changed
    new_absolute = lexical_target(change.path, change.new_target)
    checked = [("new", new_absolute)]
    if require_broken:  # a repair: the link must be broken, not its mount down (a moved mount is gone)
        checked.append(("old", lexical_target(change.path, change.old_target)))
    for label, target in checked:
        health = monitor.health_of(target)
        if not health.healthy:
            return f"the {label} target's mount {health.mount_point} is down: {health.reason}"
    try:
        if not stat.S_ISREG(os.stat(new_absolute).st_mode):
            return "the new target is not a file"
    except OSError as exc:
        return f"the new target is not there: {exc.strerror or exc}"
    if require_broken:
        try:
            os.stat(change.path)
            return "the link works again"
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                return f"the old target cannot be checked: {exc.strerror or exc}"
    return None


def retarget_links(changes: Iterable[Change], *, journal: RetargetJournal, root: str, monitor: MountMonitor,
                   kind: str, batch: str, scan_id: str | None = None, require_broken: bool = True,
                   fs_timeout: float = FS_TIMEOUT, should_abort: Callable[[], bool] = lambda: False,
                   on_outcome: Callable[[RetargetOutcome], None] = lambda outcome: None) -> list[RetargetOutcome]:
    """Re-point each link after a re-check; journal first. Never raises for one item."""
    outcomes: list[RetargetOutcome] = []

    def finish(change: Change, outcome: str, reason: str | None = None, entry_id: int | None = None) -> None:
        outcomes.append(RetargetOutcome(change.path, change.old_target, change.new_target, outcome, reason, entry_id))
        on_outcome(outcomes[-1])

    for change in changes:
        if should_abort():
            break
        try:
            # the mount checks have their own deadline (the monitor's timeout) inside this one
            why_keep = call_with_deadline(_why_not, change, monitor, require_broken,
                                          timeout=fs_timeout + monitor.timeout)
        except CallTimeout:
            why_keep = f"the re-check did not finish within {fs_timeout:g}s"
        except OSError as exc:
            why_keep = f"the re-check failed: {exc.strerror or exc}"
        if why_keep is not None:
            finish(change, "skipped", why_keep)
            continue
        entry_id = journal.record_pending(path=change.path, old_target=change.old_target,
                                          new_target=change.new_target, kind=kind, batch=batch, scan_id=scan_id)
        try:
            call_with_deadline(replace_confined, root, change.path, change.old_target, change.new_target,
                               timeout=fs_timeout)
        except NotConfined as exc:
            journal.mark(entry_id, "skipped", error=str(exc))
            finish(change, "skipped", str(exc), entry_id)
            continue
        except (OSError, CallTimeout) as exc:
            journal.mark(entry_id, "failed", error=str(exc))
            finish(change, "failed", str(exc), entry_id)
            continue
        journal.mark(entry_id, "retargeted")
        finish(change, "retargeted", None, entry_id)
    return outcomes


@dataclass(frozen=True)
class JournalEntry:
    id: int
    path: str
    old_target: str
    new_target: str


def undo_retargets(entries: Iterable[JournalEntry], *, journal: RetargetJournal, root: str,
                   fs_timeout: float = FS_TIMEOUT) -> list[RetargetOutcome]:
    """Point each re-targeted link back at its old target, if it still points at the new
    one (anything else there is left alone)."""
    outcomes = []
    for entry in entries:
        try:
            call_with_deadline(replace_confined, root, entry.path, entry.new_target, entry.old_target,
                               timeout=fs_timeout)
        except NotConfined as exc:
            outcomes.append(RetargetOutcome(entry.path, entry.old_target, entry.new_target, "skipped", str(exc),
                                            entry.id))
            continue
        except (OSError, CallTimeout) as exc:
            outcomes.append(RetargetOutcome(entry.path, entry.old_target, entry.new_target, "failed", str(exc),
                                            entry.id))
            continue
        journal.mark(entry.id, "undone")
        outcomes.append(RetargetOutcome(entry.path, entry.old_target, entry.new_target, "undone", None, entry.id))
    return outcomes
