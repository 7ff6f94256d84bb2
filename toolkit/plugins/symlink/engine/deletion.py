"""Deleting problem links reversibly, and putting them back.

- :func:`.guard.deletion_guard` refuses a mass deletion (too many, or too
  large a share of the scanned links) unless explicitly overridden.
- :func:`delete_problems` re-checks each item just before acting (still a link, same
  target, still bad, its mount answering), writes the journal row *before* the unlink,
  and removes only the link (BROKEN links included).
- :func:`restore` re-creates links from the journal.

Both are confined to a root folder (the media path) with directory file descriptors: the
root is opened, then each folder down to the link's parent one component at a time with
``O_NOFOLLOW|O_DIRECTORY``, and the link itself is checked, removed or created relative to
its parent's descriptor. A folder swapped for a link (to another folder with the same file
names) therefore stops the deletion instead of deleting in the other folder.

None of this depends on the CLI; the web page and the job runner call the same functions.
The journal is given to them (:class:`Journal`; the plugin's is ``store.DeletionJournal``,
on the toolkit's database): the engine itself opens no database.
"""
from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .classify import Healthy, LinkClassifier
from .model import CORRUPTED, DELETABLE_STATUSES, IO_ERROR, Problem, ScanOptions
from .mounts import MountMonitor
from .mounttable import lexical_target
from .workers import CallTimeout, call_with_deadline
from .probe import probe

class JournalEntry(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def target(self) -> str: ...


class Journal(Protocol):
    """Where each deletion is written *before* it happens, and read back to restore."""

    def record_pending(self, *, path: str, target: str, status: str, reason: str | None, size: int | None,
                       scan_id: str | None) -> int: ...

    def mark(self, entry_id: int, state: str, *, error: str | None = None) -> None: ...

    def entries(self, *, scan_id: str | None = None, states: tuple[str, ...] | None = None,
                ids: list[int] | None = None, path_prefix: str | None = None,
                limit: int | None = None) -> Sequence[JournalEntry]: ...


IO_ERROR_RECHECK_DELAY = 2.0


class NotConfined(Exception):
    """The path is not reachable under the root through real folders only."""


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def open_parent(root: str, path: str, *, create: bool = False) -> tuple[int, str]:
    """A descriptor of ``path``'s parent folder reached from ``root`` without following any
    link, and the entry's name in it (the caller closes the descriptor). ``create`` makes
    missing folders (restore). Raises :class:`NotConfined` with the reason."""
    root, path = os.path.normpath(root), os.path.normpath(path)
    relative = os.path.relpath(path, root)
    if relative == "." or relative == ".." or relative.startswith("../"):
        raise NotConfined(f"outside {root}")
    *folders, name = relative.split("/")
    fd = os.open(root, _DIR_FLAGS)  # the root itself is configured by the user: links allowed
    try:
        reached = root
        for folder in folders:
            reached = os.path.join(reached, folder)
            if create:
                try:
                    os.mkdir(folder, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                child = os.open(folder, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotConfined(f"{reached} is not a real folder under {root} (a link or a "
                                      "file took its place)") from None
                if exc.errno == errno.ENOENT:
                    raise NotConfined(f"{reached} does not exist any more") from None
                raise
            os.close(fd)
            fd = child
        return fd, name
    except BaseException:
        os.close(fd)
        raise


def unlink_confined(root: str, path: str, target: str) -> None:
    """Remove the link ``path`` (confined to ``root``) if it is still a symlink to ``target``.
    Raises :class:`NotConfined` when something else is there, ``OSError`` on failure."""
    fd, name = open_parent(root, path)
    try:
        check_link_at(fd, name, target, "deletion")
        os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


def check_link_at(fd: int, name: str, target: str, action: str) -> None:
    """Raise :class:`NotConfined` unless ``name`` in the folder ``fd`` is a symlink to
    ``target`` (just before ``action`` changes it)."""
    try:
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        raise NotConfined(f"gone at the moment of {action}") from None
    if not stat.S_ISLNK(info.st_mode):
        raise NotConfined(f"not a symlink at the moment of {action}")
    if os.readlink(name, dir_fd=fd) != target:
        raise NotConfined(f"the link points elsewhere at the moment of {action}")


def root_of(path: str, roots: Iterable[str]) -> str:
    """The deepest of ``roots`` holding ``path`` (the scanned folders), else its parent."""
    path = os.path.abspath(path)
    holding = [os.path.abspath(r) for r in roots
               if path.startswith(os.path.abspath(r).rstrip("/") + "/")]
    return max(holding, key=len) if holding else os.path.dirname(path)


@dataclass(frozen=True)
class DeletionOutcome:
    path: str
    target: str
    status: str
    outcome: str  # deleted, skipped, failed
    reason: str | None = None
    journal_id: int | None = None
    size: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "target": self.target, "status": self.status, "size": self.size,
                "outcome": self.outcome, "reason": self.reason, "journal_id": self.journal_id}


def link_changed(path: str, target: str, *, gone: str) -> str | None:
    """Why the link at ``path`` is no longer the one that was checked (``gone`` when it
    is missing), or ``None`` when it is still a symlink to ``target``."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return gone
    if not stat.S_ISLNK(info.st_mode):
        return "no longer a symlink"
    if os.readlink(path) != target:
        return "the link now points elsewhere"
    return None


def recheck(problem: Problem, classifier: LinkClassifier, *, depth: str, probe_timeout: float,
            io_error_delay: float = IO_ERROR_RECHECK_DELAY) -> str | None:
    """``None`` when the item is still bad, else why it must be kept."""
    changed = link_changed(problem.path, problem.target, gone="gone already")
    if changed:
        return changed
    health = classifier.monitor.health_of(lexical_target(problem.path, problem.target), force=True)
    if not health.healthy:
        return f"mount {health.mount_point} is down: {health.reason}"
    if problem.status == IO_ERROR and io_error_delay > 0:
        time.sleep(io_error_delay)  # a read error may be a passing server hiccup
    now = classifier.classify(problem.path)
    if problem.status == CORRUPTED:
        if not isinstance(now, Healthy):
            return f"phase 1 now says {now.status if now else 'not a link'}: re-scan before deleting"
        verdict = probe(problem.path, depth if depth in ("full", "deep") else "full", timeout=probe_timeout)
        return None if verdict.verdict == CORRUPTED else f"the probe now says {verdict.verdict}"
    if now is None or isinstance(now, Healthy):
        return "the link is fine now"
    if now.status != problem.status:
        return f"status changed to {now.status}" + (f" ({now.reason})" if now.reason else "")
    return None


def delete_problems(
    problems: Iterable[Problem],
    *,
    journal: Journal,
    scan_id: str | None,
    should_abort: Callable[[], bool] = lambda: False,
    options: ScanOptions | None = None,
    monitor: MountMonitor | None = None,
    on_outcome: Callable[[DeletionOutcome], None] = lambda outcome: None,
    io_error_delay: float = IO_ERROR_RECHECK_DELAY,
    root: str | None = None,
) -> list[DeletionOutcome]:
    """Delete each deletable problem link after a re-check; journal first. Never raises
    for one item: its outcome says ``failed`` with the error. Deletion is confined to
    ``root`` (the media path; default: the scanned folder holding the link): a link whose
    parent folders are not real folders under it is kept, and its journal row says why."""
    options = options or ScanOptions(paths=["/"])
    monitor = monitor or MountMonitor(timeout=options.mount_timeout, interval=options.mount_check_interval,
                                      expected_mounts=options.expected_mounts)
    classifier = LinkClassifier(options, monitor)
    outcomes: list[DeletionOutcome] = []

    def finish(outcome: DeletionOutcome) -> None:
        outcomes.append(outcome)
        on_outcome(outcome)

    for problem in problems:
        if should_abort():
            break
        if problem.status not in DELETABLE_STATUSES:
            finish(DeletionOutcome(problem.path, problem.target, problem.status, "skipped",
                                   f"{problem.status} is never deleted"))
            continue
        try:
            why_keep = call_with_deadline(
                lambda: recheck(problem, classifier, depth=options.depth, probe_timeout=options.probe_timeout,
                                io_error_delay=io_error_delay),
                timeout=options.fs_timeout + options.probe_timeout * (2 + options.deep_samples) + io_error_delay,
            )
        except CallTimeout:
            why_keep = "re-check did not finish in time"
        except OSError as exc:
            why_keep = f"re-check failed: {exc}"
        if why_keep is not None:
            finish(DeletionOutcome(problem.path, problem.target, problem.status, "skipped", why_keep))
            continue
        entry_id = journal.record_pending(path=problem.path, target=problem.target, status=problem.status,
                                          reason=problem.reason, size=problem.size, scan_id=scan_id)
        try:
            unlink_confined(root or root_of(problem.path, options.paths), problem.path, problem.target)
        except NotConfined as exc:
            journal.mark(entry_id, "skipped", error=str(exc))
            finish(DeletionOutcome(problem.path, problem.target, problem.status, "skipped", str(exc), entry_id,
                                   problem.size))
            continue
        except OSError as exc:
            journal.mark(entry_id, "failed", error=str(exc))
            finish(DeletionOutcome(problem.path, problem.target, problem.status, "failed", str(exc), entry_id,
                                   problem.size))
            continue
        journal.mark(entry_id, "deleted")
        finish(DeletionOutcome(problem.path, problem.target, problem.status, "deleted", problem.reason, entry_id,
                               problem.size))
    return outcomes


@dataclass(frozen=True)
class RestoreOutcome:
    journal_id: int
    path: str
    target: str
    outcome: str  # restored, skipped, failed, would-restore
    reason: str | None = None


def restore(
    journal: Journal,
    *,
    ids: list[int] | None = None,
    scan_id: str | None = None,
    path_prefix: str | None = None,
    dry_run: bool = False,
    root: str = "/",
) -> list[RestoreOutcome]:
    """Re-create deleted links (journal state ``deleted``) matching the filters, confined
    to ``root`` (the media path) like the deletion: missing folders are created, a folder
    that became a link is not followed.

    A path that is occupied (by anything, even a dangling link) is left alone.
    """
    if not (ids or scan_id or path_prefix):
        raise ValueError("choose what to restore: journal ids, a scan id or a path prefix")
    outcomes = []
    for entry in journal.entries(scan_id=scan_id, ids=ids, path_prefix=path_prefix, states=("deleted",)):
        if os.path.lexists(entry.path):
            outcomes.append(RestoreOutcome(entry.id, entry.path, entry.target, "skipped", "the path is occupied"))
            continue
        if dry_run:
            outcomes.append(RestoreOutcome(entry.id, entry.path, entry.target, "would-restore"))
            continue
        try:
            fd, name = open_parent(root, entry.path, create=True)
            try:
                os.symlink(entry.target, name, dir_fd=fd)  # fails on an occupied name: kept
            finally:
                os.close(fd)
        except NotConfined as exc:
            outcomes.append(RestoreOutcome(entry.id, entry.path, entry.target, "skipped", str(exc)))
            continue
        except OSError as exc:
            journal.mark(entry.id, "deleted", error=f"restore failed: {exc}")
            outcomes.append(RestoreOutcome(entry.id, entry.path, entry.target, "failed", str(exc)))
            continue
        journal.mark(entry.id, "restored")
        outcomes.append(RestoreOutcome(entry.id, entry.path, entry.target, "restored"))
    return outcomes
