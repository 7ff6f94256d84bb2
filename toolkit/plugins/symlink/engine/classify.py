"""Phase-1 classification of one link, in the original script's order (first match wins):
BROKEN, INACCESSIBLE, SMALL_FILE, IO_ERROR, ERROR, OK -- plus UNKNOWN when the target's
mount cannot answer (see :mod:`.checker`)."""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

from .model import BROKEN, ERROR, INACCESSIBLE, IO_ERROR, SMALL_FILE, UNKNOWN, Problem, ScanOptions, VerdictStore
from .mounts import MountMonitor
from .mounttable import LOCAL_FSTYPES, UNKNOWN_ERRNOS, birth_time_ns, is_network_fstype, lexical_target
from .probe import MEDIA_EXTENSIONS, ProbeVerdict

SMALL_FILE_BYTES = 1024
READ_BYTES = 1024
# Small sidecar files are legitimate: the SMALL_FILE rule skips them unless
# small_files="all" (the original's behaviour).
SIDECAR_EXTENSIONS = frozenset(
    {".nfo", ".srt", ".sub", ".idx", ".ass", ".ssa", ".vtt", ".smi", ".txt", ".xml", ".json",
     ".jpg", ".jpeg", ".png", ".gif", ".webp", ".tbn", ".sfv", ".md5", ".url", ".lrc", ".cue", ".m3u"}
)
_BROKEN_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG})


@dataclass
class Healthy:
    """Phase-1 OK: kept only long enough to count it (and spool media links)."""

    size: int
    is_media: bool
    cached: ProbeVerdict | None = None  # a recent phase-2 verdict for this exact file
    target: str = ""
    read: bool = True  # False: its read check is left to phase 2's probe (see defer_media_reads)


def _effective_capabilities() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            capabilities = next(line for line in status if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return None
    return int(capabilities.split()[1], 16)


def _root_reads_everything() -> bool:
    """Running as root with CAP_DAC_OVERRIDE (not dropped, as containers may)."""
    if os.geteuid() != 0:
        return False
    return bool((_effective_capabilities() or 0) & (1 << 1))  # CAP_DAC_OVERRIDE is bit 1


def open_proves_readable() -> bool:
    """Whether ``open(path, O_RDONLY)`` succeeding means ``access(path, R_OK)`` says yes
    too: root that reads everything, or a process that is not set-id and holds no
    effective capability (access() checks the real ids, open() the effective ones and the
    capabilities; here they are the same). The quick workers then skip access()."""
    if _root_reads_everything():
        return True
    plain_ids = os.geteuid() == os.getuid() and os.getegid() == os.getgid()
    return plain_ids and _effective_capabilities() == 0


def describe_error(exc: OSError) -> str:
    return f"{exc.strerror or exc} (errno {exc.errno})" if exc.errno else str(exc)


@dataclass
class MissingFolder:
    """Phase-1 BROKEN whose target lies under a *folder* that is missing on a local
    filesystem (``missing`` is the first path component that does not exist). A scan holds
    these back: when most of its links point under missing folders of one parent, the
    mount that should be there is not visible (UNKNOWN), not a library of broken links."""

    problem: Problem
    missing: str
    # ``missing`` sits in an existing but EMPTY local folder, which changed after the link
    # was made (see :meth:`LinkClassifier._empty_folder_doubt`)
    in_empty_folder: bool = False


class LinkClassifier:
    """Phase-1 classification of one link; safe to call from many threads."""

    def __init__(self, options: ScanOptions, monitor: MountMonitor, verdict_store: VerdictStore | None = None,
                 *, defer_media_reads: bool = False) -> None:
        self.options = options
        # phase 2's PyAV probe makes the read check on the handle it probes (avworker.py):
        # through rclone, one request per media link instead of one per phase
        self.defer_media_reads = defer_media_reads
        self.monitor = monitor
        self.verdict_store = verdict_store if options.depth != "basic" else None
        self._missing_context: dict[str, tuple[str | None, str | None]] = {}
        self.root_reads_everything = _root_reads_everything()  # per classifier: a forked child may setuid

    def classify(self, path: str) -> Problem | Healthy | None:
        outcome = self.classify_for_scan(path)
        return outcome.problem if isinstance(outcome, MissingFolder) else outcome

    def classify_for_scan(self, path: str) -> Problem | Healthy | MissingFolder | None:
        try:
            return self._classify(path)
        except Exception as exc:  # the original's ERROR: anything not an OSError of the checks
            return Problem(path, safe_readlink(path), ERROR, 1, 0, f"{type(exc).__name__}: {exc}")

    def _classify(self, path: str) -> Problem | Healthy | MissingFolder | None:
        try:
            target = os.readlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return None  # vanished since the walk
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                return None  # not a symlink (any more): skipped, as in the original
            raise
        absolute_target = lexical_target(path, target)

        def problem(status: str, reason: str | None, size: int = 0) -> Problem:
            return Problem(path, target, status, 1, size, reason)

        health = self.monitor.health_of(absolute_target)
        if not health.healthy:
            return problem(UNKNOWN, f"mount {health.mount_point} is down: {health.reason}")
        with self.monitor.call_on(absolute_target) as call:
            outcome = self._check_target(path, target, absolute_target, problem)
            call.failed = isinstance(outcome, Problem) and outcome.status in (IO_ERROR, UNKNOWN, ERROR)
            if isinstance(outcome, Healthy) and outcome.size and outcome.cached is None and outcome.read:
                call.good = path  # read just now: the mount's liveness probe may read it again
            call.remote = call.good is not None or (isinstance(outcome, Problem) and outcome.status == IO_ERROR)
        return outcome

    def _check_target(self, path: str, target: str, absolute_target: str,
                      problem: Callable[..., Problem]) -> Problem | Healthy | MissingFolder:
        try:
            info = os.stat(path)
        except OSError as exc:
            if exc.errno in _BROKEN_ERRNOS:
                doubt, missing_folder, empty_folder = self._missing_target_context(absolute_target)
                if empty_folder is not None:
                    doubt = self._empty_folder_doubt(path, empty_folder)
                if doubt:
                    return problem(UNKNOWN, doubt)
                broken = problem(BROKEN, "symlink loop" if exc.errno == errno.ELOOP else f"target missing: {describe_error(exc)}")
                if empty_folder is not None:
                    child = absolute_target if os.path.dirname(absolute_target) == empty_folder else missing_folder
                    return MissingFolder(broken, child or absolute_target, in_empty_folder=True)
                return MissingFolder(broken, missing_folder) if missing_folder else broken
            if exc.errno == errno.EACCES:
                return problem(INACCESSIBLE, f"cannot reach the target: {describe_error(exc)}")
            return unreadable(path, target, exc, 0, self.monitor)
        if stat.S_ISDIR(info.st_mode):
            # A link to a directory: the original never examined these (os.walk lists
            # them as directories); only reachability applies to a directory.
            if not os.access(path, os.R_OK | os.X_OK):
                return problem(INACCESSIBLE, "directory not readable")
            return Healthy(0, False)
        # root with CAP_DAC_OVERRIDE is granted read on every file: the access() call would
        # only cost a system call per link (a FUSE mount that still refuses root answers the
        # open below with EACCES, which says INACCESSIBLE as well)
        if not self.root_reads_everything and not os.access(path, os.R_OK):
            return problem(INACCESSIBLE, "not readable", info.st_size)
        extension = os.path.splitext(path)[1].lower()
        if info.st_size < SMALL_FILE_BYTES and (self.options.small_files == "all"
                                                or extension not in SIDECAR_EXTENSIONS):
            return problem(SMALL_FILE, f"{info.st_size} bytes (< {SMALL_FILE_BYTES})", info.st_size)
        is_media = extension in MEDIA_EXTENSIONS
        if self.verdict_store is not None and is_media:
            cached = self._recent_verdict(absolute_target, info)
            if cached is not None:
                # phase 2 read this very file (same size and mtime) recently: skip the
                # 1024-byte read, the one network request of phase 1, and the probe
                return Healthy(info.st_size, True, cached, target)
        if is_media and self.defer_media_reads:
            return Healthy(info.st_size, True, read=False)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.read(descriptor, READ_BYTES)
            finally:
                os.close(descriptor)
        except OSError as exc:
            return unreadable(path, target, exc, info.st_size, self.monitor)
        return Healthy(info.st_size, is_media)

    def _recent_verdict(self, absolute_target: str, info: os.stat_result) -> ProbeVerdict | None:
        assert self.verdict_store is not None
        # keyed by the link's lexical target, not its realpath: a realpath costs an lstat per
        # path component (through FUSE, most of a re-scan's time); size and mtime_ns are the
        # final file's (stat follows the link)
        return self.verdict_store.get(absolute_target, info.st_size, info.st_mtime_ns, self.options.depth,
                                      self.options.recheck_age_seconds)

    def _missing_target_context(self, absolute_target: str) -> tuple[str | None, str | None, str | None]:
        """(why a missing target may be a missing *mount* rather than a missing file,
        the missing folder to hold the link back for when it sits on a local filesystem,
        the empty local folder it would be in, for :meth:`_empty_folder_doubt`).

        Looks for the nearest existing ancestor of the target: an empty directory that is
        not a mount point is what an unmounted mount point looks like, and an empty FUSE /
        network mount point is a mount that lost its content (scan-level findings, as the
        banner and the deletion refusal rely on ``mount_down``).
        """
        directory = os.path.dirname(absolute_target)
        known = self._missing_context.get(directory)
        if known is not None:
            return known
        doubt = missing_folder = empty_folder = None
        ancestor, below = directory, directory
        while True:
            try:
                with os.scandir(ancestor) as entries:
                    empty = next(entries, None) is None
            except FileNotFoundError:
                if ancestor == "/":
                    break
                ancestor, below = os.path.dirname(ancestor), ancestor
                continue
            except OSError as exc:
                if exc.errno in UNKNOWN_ERRNOS:
                    doubt = f"{ancestor}: {describe_error(exc)}"
                    self.monitor.note_not_visible(ancestor, f"cannot list it: {describe_error(exc)}")
                break
            fstype = self.monitor.mount_of(ancestor).fstype
            if empty and fstype in LOCAL_FSTYPES:
                # a mount point too: a container's bind of the host's /mnt/zurg while the
                # host's rclone is down shows the empty directory under it, as ext4
                empty_folder, missing_folder = ancestor, (below if ancestor != directory else None)
            elif empty and self.monitor.is_mount_point(ancestor):
                if is_network_fstype(fstype):  # mounted, but serving nothing (issue 9: down)
                    doubt = f"mount {ancestor} is mounted but empty"
                    self.monitor.note_not_visible(ancestor, "mounted but empty (the links into it are UNKNOWN)")
                elif ancestor != directory:
                    missing_folder = below
            elif empty:
                doubt = f"target root {ancestor} is empty and not a mount point: looks unmounted"
                self.monitor.note_not_visible(ancestor, LOOKS_UNMOUNTED)
            elif ancestor != directory:  # a folder is missing, not only the file
                if not is_network_fstype(fstype):
                    missing_folder = below
            break
        if len(self._missing_context) > 10_000:
            self._missing_context.clear()
        self._missing_context[directory] = (doubt, missing_folder, empty_folder)
        return doubt, missing_folder, empty_folder

    def _empty_folder_doubt(self, path: str, folder: str) -> str | None:
        """An empty local folder on the way to a missing target is an unmounted mount point
        (UNKNOWN) unless it changed after the link was made AND after it was created:
        removing the target (or its release folder) from a local folder sets the folder's
        mtime, while the directory under a mount point is not touched by what happens on
        the mount (made by ``mkdir`` -- before the links, or after them on a new machine --
        its mtime is its birth time). Such a link is held back; :mod:`.phase1` still says
        "looks unmounted" when the links into the folder lead to more than one missing
        entry (a whole tree, not one lost release). Without a birth time: UNKNOWN."""
        try:
            modified = os.stat(folder).st_mtime_ns
            born = birth_time_ns(folder)
            emptied_since_link = born is not None and modified > born and modified > os.lstat(path).st_mtime_ns
        except OSError:
            emptied_since_link = False
        if emptied_since_link:
            return None
        self.monitor.note_not_visible(folder, LOOKS_UNMOUNTED)
        return f"target root {folder} is empty and not a mount point: looks unmounted"


LOOKS_UNMOUNTED = "empty and not a mount point: looks unmounted (the links into it are UNKNOWN)"


def unreadable(path: str, target: str, exc: OSError, size: int, monitor: MountMonitor) -> Problem:
    """Phase 1's verdict on a target that could not be opened or read (or stat'ed, for
    another reason than a missing file or a refused folder)."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return Problem(path, target, INACCESSIBLE, 1, size, f"not readable: {describe_error(exc)}")
    if exc.errno in UNKNOWN_ERRNOS:
        health = monitor.report_failure(lexical_target(path, target))
        state = "is down" if not health.healthy else "answered"
        return Problem(path, target, UNKNOWN, 1, size, f"{describe_error(exc)}; mount {health.mount_point} {state}")
    return Problem(path, target, IO_ERROR, 1, size, describe_error(exc))


def safe_readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""
