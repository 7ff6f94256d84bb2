"""The streaming walk of the library: every symlink under the scanned folders.

Directory links are yielded as links, never followed. Without a deadline the walk runs in
the caller's thread. With one, ``os.scandir`` runs in a walker thread watched by the
caller: a library folder on a hung mount blocks that thread in the kernel, so past the
deadline the folder is given up (reported through ``on_hung``), the thread abandoned and a
fresh one carries on with the folders still to walk.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator

_BATCH = 1024  # links handed from the walker thread to the caller at a time
_POLL_SECONDS = 0.1
MAX_HUNG_FOLDERS = 8  # past this many, the walk stops: the library's filesystem is not answering


def _note(errors: list[str] | None, message: str, limit: int = 100) -> None:
    if errors is not None and len(errors) < limit:
        errors.append(message)


def _start_points(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """(links named directly, folders to walk). A named link to a folder is walked (the
    user named it); a named link to anything else is yielded itself."""
    links, folders = [], []
    for root in paths:
        if os.path.islink(root) and not os.path.isdir(root):
            links.append(root)
        else:
            folders.append(root)
    return links, folders


def _list_folder(directory: str, stack: list[str], errors: list[str] | None,
                 on_entry: Callable[[], None] = lambda: None) -> list[str]:
    """The links directly in ``directory``; its sub-folders go on ``stack``."""
    links: list[str] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                on_entry()
                try:
                    if entry.is_symlink():
                        links.append(entry.path)
                    elif entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                except OSError as exc:
                    _note(errors, f"{entry.path}: {exc}")
    except OSError as exc:
        _note(errors, f"{directory}: {exc.strerror or exc}")
    return links


def walk_links(paths: Iterable[str], errors: list[str] | None = None, *, deadline: float | None = None,
               on_hung: Callable[[str], None] = lambda folder: None) -> Iterator[str]:
    """Every symlink under ``paths`` (an explicit stack, no recursion). Unreadable folders
    are noted in ``errors``; with ``deadline``, a folder that does not answer in time is
    noted and passed to ``on_hung`` (from the iterating thread), and the walk goes on."""
    if deadline is None:
        links, stack = _start_points(paths)
        yield from links
        while stack:
            yield from _list_folder(stack.pop(), stack, errors)
        return
    yield from _WatchedWalk(list(paths), errors, deadline, on_hung)


class _Walker(threading.Thread):
    """Walks the shared stack until it is empty, the walk stops, or it is abandoned."""

    def __init__(self, walk: _WatchedWalk) -> None:
        super().__init__(daemon=True, name="symlink-walker")
        self.walk = walk
        self.folder: str | None = None  # the folder being listed
        self.pending: list[str] = []  # links found, not handed over yet
        self.last_progress = time.monotonic()
        self.abandoned = False

    def _touch(self) -> None:
        self.last_progress = time.monotonic()

    def run(self) -> None:
        walk = self.walk
        try:
            while True:
                with walk.lock:
                    if self.abandoned or walk.stopped:
                        return
                    if walk.named:  # a scanned path: resolving it (islink, isdir) may hang too
                        self.folder, named = walk.named.pop(0), True
                    elif walk.stack:
                        self.folder, named = walk.stack.pop(), False
                    else:
                        break  # every folder listed (and every link handed over: see below)
                    self._touch()
                found: list[str] = []
                if named:
                    links, found = _start_points([self.folder])
                else:
                    links = _list_folder(self.folder, found, walk.errors, self._touch)
                with walk.lock:
                    if self.abandoned:
                        return  # the watcher gave this folder up; its links are not wanted now
                    walk.stack.extend(found)
                    self.folder = None
                    # links of small folders travel together (fewer hand-overs); the watcher
                    # takes what is pending if this thread hangs on a later folder
                    self.pending.extend(links)
                    last = not (walk.stack or walk.named)
                    batch = self.pending if len(self.pending) >= _BATCH or last else None
                    if batch is not None:
                        self.pending = []
                if batch and not self._hand_over(batch):
                    return
        except BaseException as exc:  # surfaced by the watcher
            walk.failure = exc
        finally:
            with walk.lock:
                if not self.abandoned:
                    walk.finished.set()
            if walk.finished.is_set():
                try:  # wake the watcher now, not at its next poll (an empty walk: 0.1 s)
                    walk.batches.put_nowait([])
                except queue.Full:
                    pass  # batches are waiting: the watcher checks after each

    def _hand_over(self, links: list[str]) -> bool:
        while not (self.abandoned or self.walk.stopped):
            try:
                self.walk.batches.put(links, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False


class _WatchedWalk:
    def __init__(self, paths: list[str], errors: list[str] | None, deadline: float,
                 on_hung: Callable[[str], None]) -> None:
        self.named = paths
        self.stack: list[str] = []
        self.errors = errors
        self.deadline = deadline
        self.on_hung = on_hung
        self.lock = threading.Lock()
        self.batches: queue.Queue[list[str]] = queue.Queue(maxsize=8)
        self.finished = threading.Event()
        self.stopped = False
        self.failure: BaseException | None = None

    def __iter__(self) -> Iterator[str]:
        walker = _Walker(self)
        walker.start()
        hung = 0
        try:
            while True:
                try:
                    yield from self.batches.get(timeout=_POLL_SECONDS)
                    if not (self.finished.is_set() and self.batches.empty()):
                        continue
                except queue.Empty:
                    pass
                if self.failure is not None:
                    raise self.failure
                if self.finished.is_set():
                    if self.batches.empty():
                        return
                    continue
                with self.lock:
                    stuck = walker.folder
                    if stuck is None or time.monotonic() - walker.last_progress <= self.deadline:
                        continue
                    walker.abandoned = True
                    found_before, walker.pending = walker.pending, []
                yield from found_before
                hung += 1
                _note(self.errors, f"{stuck}: no answer within {self.deadline:g}s; its links were not checked")
                self.on_hung(stuck)
                if hung >= MAX_HUNG_FOLDERS:
                    _note(self.errors, f"walk stopped: {hung} folders did not answer")
                    return
                walker = _Walker(self)
                walker.start()
        finally:
            self.stopped = True
