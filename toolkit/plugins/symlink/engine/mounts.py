"""Mount health: is the filesystem a link points into able to answer at all?

A dead rclone mount answers every ``stat`` with ENOTCONN (or hangs), and an unmounted
mount point is an empty directory: either way every link would look BROKEN. This module
finds the mount a target lives on (``/proc/self/mountinfo``), checks it with a timed
``stat`` + listing of its root, and remembers the answer for ``interval`` seconds.

Slow is not down: a debrid mount under rclone's default retries often takes seconds per
call (rclone's pacer, shared by every call on the remote, backs off after each HTTP
error). The scan's calls on a mount are tracked (:class:`MountActivity`): the mount is
*down* (hung) only when nothing on it completed for ``timeout`` while calls were pending;
a slow one is *degraded*, with its latency figures in the findings.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from .activity import ACTIVITY_KEYS, DEADLINE_P95_FACTOR, MountActivity, TrackedCall
from .mounttable import EXPECTED, KNOWN, LOCAL_FSTYPES, MountPoint, is_under, read_mount_table
from .workers import CallTimeout, call_with_deadline


@dataclass
class MountHealth:
    mount_point: str
    fstype: str
    healthy: bool
    reason: str | None = None
    checked_at: float = field(default_factory=time.time)
    was_down: bool = False  # down at any check during this scan
    hung: bool = False  # declared down because nothing completed: stays down for the scan
    activity: dict[str, Any] | None = None  # MountActivity.figures() when the scan made calls here

    def as_dict(self) -> dict[str, Any]:
        figures = self.activity or {}
        return {
            "mount_point": self.mount_point,
            "fstype": self.fstype,
            "healthy": self.healthy,
            "reason": self.reason,
            "was_down": self.was_down,
            "degraded": bool(figures.get("degraded")) and not self.was_down,
            **{key: figures.get(key) for key in ACTIVITY_KEYS},
        }



def probe_mount_root(path: str) -> None:
    """stat the root and read one directory entry; raises OSError when the mount cannot answer."""
    os.stat(path)
    with os.scandir(path) as entries:
        next(entries, None)


def check_mount(mount: MountPoint, *, timeout: float, expected: bool = False,
                monitor: MountMonitor | None = None) -> MountHealth:
    """Timed root check. Past ``timeout`` the mount is down (hung) unless, with ``monitor``,
    a call of the scan on it completed meanwhile: then it is slow, not down. (The check
    itself never counts as a sign of life: rclone answers it from its directory cache.)"""
    started = time.monotonic()
    try:
        call_with_deadline(probe_mount_root, mount.path, timeout=timeout)
    except CallTimeout:
        if monitor is not None and monitor.completed_since(mount.path, started):
            return MountHealth(mount.path, mount.fstype, True,
                               f"mount root took more than {timeout:g}s, but other calls completed (slow)")
        return MountHealth(mount.path, mount.fstype, False,
                           f"nothing on the mount answered within {timeout:g}s (hung)", hung=True)
    except OSError as exc:
        return MountHealth(mount.path, mount.fstype, False, f"{exc.strerror or exc} (errno {exc.errno})")
    return MountHealth(mount.path, mount.fstype, True)


_MAX_NOT_VISIBLE = 20


class MountMonitor:
    """Thread-safe, cached mount health for the targets of a scan.

    ``expected_mounts`` are paths that must be mount points (for example ``/mnt/zurg``);
    when one is not mounted, every target under it is "cannot tell". ``known_mounts``
    (mount point -> what was seen there, from earlier scans) are the same, but only
    reported when a target lives under one. Folders found "not visible" by the scan
    itself (:meth:`note_not_visible`) are findings too.
    """

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        interval: float = 30.0,
        expected_mounts: Iterable[str] = (),
        known_mounts: Mapping[str, str] | None = None,
        mountinfo: str = "/proc/self/mountinfo",
        concurrency: int = 64,
    ) -> None:
        self.timeout = timeout
        self.concurrency = concurrency  # most calls in flight per mount (the scan's workers)
        self.interval = interval
        self.mountinfo = mountinfo
        self.expected_mounts = tuple(os.path.normpath(os.path.abspath(p)) for p in expected_mounts)
        self.known_mounts = {os.path.normpath(path): seen for path, seen in (known_mounts or {}).items()}
        self._not_visible: dict[str, MountHealth] = {}
        self._lock = threading.Lock()
        self._check_locks: dict[str, threading.Lock] = {}
        self._health: dict[str, MountHealth] = {}
        self._background: dict[str, threading.Thread] = {}
        self._mount_of_folder: dict[str, MountPoint] = {}
        self._activity: dict[str, MountActivity] = {}
        self._tokens = itertools.count()
        self._table_read_at = 0.0
        self._mounts: list[MountPoint] = []
        self._refresh_table()

    def _refresh_table(self) -> None:
        mounts = read_mount_table(self.mountinfo)
        mounted = {m.path for m in mounts}
        for expected in self.expected_mounts:
            if expected not in mounted:
                mounts.append(MountPoint(expected, EXPECTED, "not mounted"))
                mounted.add(expected)
        for known, seen in self.known_mounts.items():
            if known not in mounted:
                mounts.append(MountPoint(known, KNOWN, seen))
        # longest path first so the first prefix match is the innermost mount
        self._mounts = sorted(mounts, key=lambda m: len(m.path), reverse=True)
        self._mount_paths = frozenset(m.path for m in mounts)
        self._table_read_at = time.monotonic()

    def mount_of(self, absolute_path: str) -> MountPoint:
        if time.monotonic() - self._table_read_at > self.interval:
            with self._lock:
                self._refresh_table()
                self._mount_of_folder = {}
        # links of one folder point into one folder: remember the answer per folder
        folder = absolute_path.rpartition("/")[0] or "/"
        is_a_mount_point = absolute_path in self._mount_paths
        found = None if is_a_mount_point else self._mount_of_folder.get(folder)
        if found is not None:
            return found
        found = next((m for m in self._mounts if is_under(absolute_path, m.path)), MountPoint("/", "unknown", ""))
        if not is_a_mount_point:
            if len(self._mount_of_folder) > 50_000:
                self._mount_of_folder = {}
            self._mount_of_folder[folder] = found
        return found

    def local_mount_table(self) -> list[tuple[str, bool]]:
        """(mount point, on a local disk filesystem) for every mount, innermost first;
        expected and remembered mount points that are missing count as not local."""
        return [(m.path, m.fstype in LOCAL_FSTYPES) for m in self._mounts]

    def is_mount_point(self, path: str) -> bool:
        return any(m.path == path and m.fstype not in (EXPECTED, KNOWN) for m in self._mounts)

    def health(self, mount: MountPoint, *, force: bool = False) -> MountHealth:
        """Cached health; ``force`` accepts only an answer from a check that ended after
        this call began (so many failing workers share one re-check)."""
        asked_at = time.time()
        known = self._health.get(mount.path)
        if known is not None and not force and asked_at - known.checked_at < self.interval:
            return known
        with self._lock:
            check_lock = self._check_locks.setdefault(mount.path, threading.Lock())
        if known is not None and known.hung:
            return known  # hung: stays down for the rest of the scan (nothing is waited on it again)
        with check_lock:
            known = self._health.get(mount.path)
            if known is not None and (known.hung or (known.checked_at >= asked_at if force
                                                     else time.time() - known.checked_at < self.interval)):
                return known  # another thread checked it while we waited
            if mount.fstype == EXPECTED:
                fresh = MountHealth(mount.path, mount.fstype, False, "expected mount point is not mounted")
            elif mount.fstype == KNOWN:
                fresh = MountHealth(mount.path, mount.fstype, False,
                                    f"not mounted here, or not visible (earlier scans saw {mount.source})")
            else:
                fresh = check_mount(mount, timeout=self.timeout, monitor=self)
            with self._lock:
                known = self._health.get(mount.path)
                if known is not None and known.hung:
                    return known  # declared hung by the watchdog meanwhile
                fresh.was_down = (not fresh.healthy) or (known is not None and known.was_down)
                self._health[mount.path] = fresh
            return fresh

    def health_of(self, absolute_path: str, *, force: bool = False) -> MountHealth:
        return self.health(self.mount_of(absolute_path), force=force)

    def report_failure(self, absolute_path: str) -> MountHealth:
        """A call under this path failed as if the mount were gone: check now."""
        return self.health_of(absolute_path, force=True)

    def recheck_soon(self, absolute_path: str) -> MountHealth | None:
        """Non-blocking :meth:`report_failure` for the coordinating thread: start a re-check
        in the background (one at a time per mount); return the last known health."""
        mount = self.mount_of(absolute_path)
        with self._lock:
            running = self._background.get(mount.path)
            if running is None or not running.is_alive():
                running = threading.Thread(target=self.health, args=(mount,), kwargs={"force": True},
                                           daemon=True, name="symlink-mount-recheck")
                self._background[mount.path] = running
                running.start()
        return self._health.get(mount.path)

    def check_all(self, paths: Iterable[str]) -> list[MountHealth]:
        seen: dict[str, MountHealth] = {}
        for path in paths:
            mount = self.mount_of(os.path.abspath(path))
            if mount.path not in seen:
                seen[mount.path] = self.health(mount, force=True)
        for expected in self.expected_mounts:
            if expected not in seen:
                seen[expected] = self.health(self.mount_of(expected), force=True)
        return list(seen.values())

    def note_not_visible(self, path: str, reason: str) -> None:
        """The scan found that the folder holding targets is missing or looks unmounted."""
        with self._lock:
            if path not in self._not_visible and len(self._not_visible) < _MAX_NOT_VISIBLE:
                self._not_visible[path] = MountHealth(path, "not visible", False, reason, was_down=True)

    def is_not_visible(self, path: str) -> bool:
        return path in self._not_visible

    def wait_for_rechecks(self, timeout: float) -> None:
        """Let background re-checks started by :meth:`recheck_soon` finish (bounded); those
        of a mount already declared hung are not waited for (they can only say "down")."""
        deadline = time.monotonic() + timeout
        for path, thread in list(self._background.items()):
            known = self._health.get(path)
            if known is None or not known.hung:
                thread.join(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------ activity and liveness

    @contextmanager
    def tracked(self, mount_path: str) -> Iterator[TrackedCall]:
        """Track a call on the mount at ``mount_path``: the caller sets ``failed``, and
        ``good`` to a file it just read (the liveness probe reads it again)."""
        call = TrackedCall()
        token = next(self._tokens)
        started = time.monotonic()
        with self._lock:
            activity = self._activity.get(mount_path) or self._activity.setdefault(
                mount_path, MountActivity(self.concurrency))
            activity.pending[token] = (started, threading.get_ident())
        try:
            yield call
        finally:
            with self._lock:
                activity.pending.pop(token, None)
                activity.record(max(0.0, time.monotonic() - started - call.local_seconds), call.failed, call.remote)
                if call.good is not None:
                    activity.good_file = call.good

    def call_on(self, absolute_path: str) -> Any:
        """:meth:`tracked` for the mount holding ``absolute_path`` when it is a FUSE/network
        mount (a local disk is not watched: its calls cost a lock less)."""
        mount = self.mount_of(absolute_path)
        if mount.fstype in LOCAL_FSTYPES:
            return nullcontext(TrackedCall())
        return self.tracked(mount.path)

    def completed_since(self, mount_path: str, since: float) -> bool:
        activity = self._activity.get(mount_path)
        return activity is not None and activity.last_completion > since

    def note_late(self, absolute_path: str) -> None:
        with self._lock:
            self._activity.setdefault(self.mount_of(absolute_path).path, MountActivity(self.concurrency)).late += 1

    def concurrency_limit(self) -> int:
        """Calls the scan may have in flight now: the tightest limit of the mounts it is
        working on (back-pressure, see :class:`MountActivity`)."""
        with self._lock:
            busy = [a.limit for a in self._activity.values() if a.pending or time.monotonic() - a.last_completion < 5]
        return int(min(busy)) if busy else self.concurrency

    def deadline(self, floor: float) -> float:
        """An item's deadline: ``floor`` (``fs_timeout``), longer on a mount whose observed
        p95 latency calls for it (at most 3× ``floor``)."""
        with self._lock:
            p95s = [a.percentile(0.95) or 0.0 for a in self._activity.values() if a.calls >= 20]
        return min(3 * floor, max([floor, *(DEADLINE_P95_FACTOR * p for p in p95s)]))

    def watch(self) -> None:
        """Liveness of every mount with calls in flight; call it often (the pool's tick).

        When nothing completed for ``timeout`` while calls were pending, the mount is
        declared down (hung) for the rest of the scan. A completion must have needed the
        remote: a mount root or a file's attributes come from rclone's caches even when the
        server hangs. So while calls are pending and none came back for a quarter of
        ``timeout``, a probe reads the first byte of a file read successfully before on
        that mount: through rclone that is a request to the server, which a slow (paced)
        mount answers in time and a hung one does not."""
        now = time.monotonic()
        with self._lock:
            busy = [(path, activity, activity.quiet_since()) for path, activity in self._activity.items()]
            hung = {path for path, health in self._health.items() if health.hung}
        for path, activity, quiet_since in busy:
            if quiet_since is None or path in hung:
                continue
            quiet = now - quiet_since
            if quiet >= self.timeout:
                self._declare_hung(path, quiet, len(activity.pending))
            elif (quiet >= self.timeout / 4 and activity.good_file is not None
                  and (activity.probe is None or not activity.probe.is_alive())):
                activity.probe = threading.Thread(target=self._probe_read, args=(path, activity.good_file),
                                                  daemon=True, name="symlink-liveness-probe")
                activity.probe.start()

    def _probe_read(self, mount_path: str, file_path: str) -> None:
        with self.tracked(mount_path) as call:
            try:
                with open(file_path, "rb", buffering=0) as handle:
                    handle.read(1)
                call.remote = True
            except OSError:
                call.failed = True

    def _hung_paths(self) -> set[str]:
        return {path for path, health in self._health.items() if health.hung}

    def _declare_hung(self, path: str, quiet: float, pending: int) -> None:
        mount = next((m for m in self._mounts if m.path == path), MountPoint(path, "unknown", ""))
        reason = f"no call on the mount completed for {quiet:.0f}s while {pending} were pending (hung)"
        with self._lock:
            self._health[path] = MountHealth(path, mount.fstype, False, reason, was_down=True, hung=True)

    def is_hung(self, absolute_path: str) -> bool:
        known = self._health.get(self.mount_of(absolute_path).path)
        return known is not None and known.hung

    def stuck_threads(self) -> set[int]:
        """Threads with a call in flight on a mount declared hung: give them up now."""
        hung = self._hung_paths()
        if not hung:
            return set()
        with self._lock:
            return {ident for path in hung if path in self._activity
                    for _, ident in self._activity[path].pending.values()}

    def findings(self) -> list[MountHealth]:
        with self._lock:
            found = {**self._health, **self._not_visible}
            for path, health in found.items():
                if path in self._activity:
                    health.activity = self._activity[path].figures()
        return sorted(found.values(), key=lambda h: h.mount_point)
