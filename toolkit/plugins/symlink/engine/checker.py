"""The symlink scan engine: pure Python, blocking, meant to run in a worker thread.

Driven like this (the CLI and the job runner do exactly this)::

    options = ScanOptions(paths=["/media/tv"], depth="full", workers=6)
    result = run_scan(
        options,
        on_problem=lambda problem: ...,      # streamed, one call per problem found
        on_progress=lambda progress: ...,    # throttled Progress events
        should_abort=lambda: False,          # polled several times a second
        verdict_store=SqlVerdictStore(engine),  # optional phase-2 verdict cache
    )
    result.statistics["phase1_broken"], result.mounts, result.cancelled, ...

Phase 1 classifies every link in the original script's order (first match wins):
BROKEN (target missing), INACCESSIBLE (not readable), SMALL_FILE (< 1024 bytes),
IO_ERROR (reading the first 1024 bytes fails), ERROR (anything else), OK -- plus
UNKNOWN ("cannot tell") when the target's mount is down or unmounted, an errno says the
filesystem cannot answer (ENOTCONN, ESTALE, EHOSTDOWN...), or a call passes its
deadline. Phase 2 (depth ``full``/``deep``) probes OK media links with ffprobe/ffmpeg,
with bounded concurrency and a verdict cache. Problems are streamed; OK links leave only
counters behind (phase-2 candidates are spooled to a temporary file).

All callbacks are called from the thread that called :func:`run_scan`.
"""
from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from .mounts import UNKNOWN_ERRNOS, MountHealth, MountMonitor, is_network_fstype, is_under, lexical_target
from .probe import MEDIA_EXTENSIONS, PROBE_TIMEOUT_SECONDS, ProbeVerdict, original_estimate, probe, tool_path
from .walk import walk_links  # noqa: F401  (part of the engine's API: directories.py, tests)
from .workers import TIMED_OUT, DeadlinePool, QuickLocalPool, QuickRules, TooManyHungCalls

OK = "OK"
BROKEN = "BROKEN"
INACCESSIBLE = "INACCESSIBLE"
SMALL_FILE = "SMALL_FILE"
IO_ERROR = "IO_ERROR"
ERROR = "ERROR"
UNKNOWN = "UNKNOWN"
CORRUPTED = "CORRUPTED"
# statuses a deletion may act on (after a re-check); UNKNOWN and ERROR never are
DELETABLE_STATUSES = frozenset({BROKEN, INACCESSIBLE, SMALL_FILE, IO_ERROR, CORRUPTED})
DEPTHS = ("basic", "full", "deep")

SMALL_FILE_BYTES = 1024
READ_BYTES = 1024
# Small sidecar files are legitimate: the SMALL_FILE rule skips them unless
# small_files="all" (the original's behaviour).
SIDECAR_EXTENSIONS = frozenset(
    {".nfo", ".srt", ".sub", ".idx", ".ass", ".ssa", ".vtt", ".smi", ".txt", ".xml", ".json",
     ".jpg", ".jpeg", ".png", ".gif", ".webp", ".tbn", ".sfv", ".md5", ".url", ".lrc", ".cue", ".m3u"}
)
_BROKEN_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG})
_PROGRESS_INTERVAL = 0.5


@dataclass
class ScanOptions:
    paths: list[str]
    depth: str = "basic"
    workers: int = 6
    probe_workers: int | None = None  # phase-2 concurrency; default = workers
    fs_timeout: float = 10.0  # deadline for one link's phase-1 checks
    mount_timeout: float = 20.0  # a mount is down (hung) when nothing on it answered for this long
    mount_check_interval: float = 30.0  # re-check each mount this often during a scan
    probe_timeout: float = PROBE_TIMEOUT_SECONDS  # per ffprobe/ffmpeg process
    deep_samples: int = 4
    recheck_age_seconds: float = 30 * 24 * 3600  # re-probe cached verdicts older than this
    small_files: str = "media"  # "media": skip sidecars (.nfo, .srt...); "all": original
    expected_mounts: list[str] = field(default_factory=list)
    max_hung_calls: int = 64
    scan_id: str | None = None
    # worker processes for links into local filesystems (CPU-bound: threads cannot help)
    local_processes: int = field(default_factory=lambda: 2 if (os.cpu_count() or 1) > 1 else 0)

    def __post_init__(self) -> None:
        if self.depth not in DEPTHS:
            raise ValueError(f"depth must be one of {', '.join(DEPTHS)}, not {self.depth!r}")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.local_processes < 0:
            raise ValueError("local_processes cannot be negative")
        if self.small_files not in ("media", "all"):
            raise ValueError("small_files must be 'media' or 'all'")
        if not self.paths:
            raise ValueError("at least one path to scan is needed")
        self.paths = [os.path.abspath(p) for p in self.paths]
        self.scan_id = self.scan_id or uuid.uuid4().hex[:12]


@dataclass
class Problem:
    path: str
    target: str
    status: str
    phase: int
    size: int
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Healthy:
    """Phase-1 OK: kept only long enough to count it (and spool media links)."""

    size: int
    is_media: bool
    cached: ProbeVerdict | None = None  # a recent phase-2 verdict for this exact file
    target: str = ""


@dataclass
class Progress:
    phase: str  # "mounts", "phase1", "phase2", "done"
    done: int
    total: int | None
    counts: dict[str, int]
    rate: float  # items per second in this phase
    eta_seconds: float | None
    message: str = ""


@dataclass
class ScanResult:
    scan_id: str
    statistics: dict[str, int]
    mounts: list[dict[str, Any]]
    duration_seconds: float
    cancelled: bool
    mount_down: bool
    phase2_estimate: str | None = None
    stopped_reason: str | None = None
    walk_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class VerdictStore(Protocol):
    def get(self, target: str, size: int, mtime_ns: int, depth: str, max_age_seconds: float) -> ProbeVerdict | None: ...

    def put(self, target: str, size: int, mtime_ns: int, depth: str, verdict: ProbeVerdict) -> None: ...

    def flush(self) -> None: ...


class MountMemory(Protocol):
    """Mount points where earlier scans saw targets answering (see ``store.SqlMountMemory``)."""

    def known(self) -> dict[str, str]: ...  # mount point -> what was seen there

    def remember(self, healthy: list[MountHealth]) -> None: ...


def new_statistics() -> dict[str, int]:
    """The original's keys first (same names as the seed's symlink_scans columns)."""
    return {
        "total_analyzed": 0,
        "phase1_ok": 0,
        "phase1_broken": 0,
        "phase1_inaccessible": 0,
        "phase1_small": 0,
        "phase1_io_error": 0,
        "phase2_analyzed": 0,
        "phase2_corrupted": 0,
        "files_deleted": 0,
        "phase1_error": 0,
        "phase1_unknown": 0,
        "phase2_unknown": 0,
        "phase2_probed": 0,
        "skipped_cached": 0,
        "media_links": 0,
    }


_PHASE1_KEYS = {
    OK: "phase1_ok",
    BROKEN: "phase1_broken",
    INACCESSIBLE: "phase1_inaccessible",
    SMALL_FILE: "phase1_small",
    IO_ERROR: "phase1_io_error",
    ERROR: "phase1_error",
    UNKNOWN: "phase1_unknown",
}


# ----------------------------------------------------------------------------- phase 1


def _root_reads_everything() -> bool:
    """Running as root with CAP_DAC_OVERRIDE (not dropped, as containers may)."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            capabilities = next(line for line in status if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return False
    return bool(int(capabilities.split()[1], 16) & (1 << 1))  # CAP_DAC_OVERRIDE is bit 1



def _describe(exc: OSError) -> str:
    return f"{exc.strerror or exc} (errno {exc.errno})" if exc.errno else str(exc)


@dataclass
class _MissingFolder:
    """Phase-1 BROKEN whose target lies under a *folder* that is missing on a local
    filesystem (``missing`` is the first path component that does not exist). A scan holds
    these back: when most of its links point under missing folders of one parent, the
    mount that should be there is not visible (UNKNOWN), not a library of broken links."""

    problem: Problem
    missing: str


class LinkClassifier:
    """Phase-1 classification of one link; safe to call from many threads."""

    def __init__(self, options: ScanOptions, monitor: MountMonitor, verdict_store: VerdictStore | None = None) -> None:
        self.options = options
        self.monitor = monitor
        self.verdict_store = verdict_store if options.depth != "basic" else None
        self._missing_context: dict[str, tuple[str | None, str | None]] = {}
        self.root_reads_everything = _root_reads_everything()  # per classifier: a forked child may setuid

    def classify(self, path: str) -> Problem | _Healthy | None:
        outcome = self.classify_for_scan(path)
        return outcome.problem if isinstance(outcome, _MissingFolder) else outcome

    def classify_for_scan(self, path: str) -> Problem | _Healthy | _MissingFolder | None:
        try:
            return self._classify(path)
        except Exception as exc:  # the original's ERROR: anything not an OSError of the checks
            return Problem(path, _safe_readlink(path), ERROR, 1, 0, f"{type(exc).__name__}: {exc}")

    def _classify(self, path: str) -> Problem | _Healthy | _MissingFolder | None:
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
            if isinstance(outcome, _Healthy) and outcome.size and outcome.cached is None:
                call.good = path  # read just now: the mount's liveness probe may read it again
            call.remote = call.good is not None or (isinstance(outcome, Problem) and outcome.status == IO_ERROR)
        return outcome

    def _check_target(self, path: str, target: str, absolute_target: str,
                      problem: Callable[..., Problem]) -> Problem | _Healthy | _MissingFolder:
        try:
            info = os.stat(path)
        except OSError as exc:
            if exc.errno in _BROKEN_ERRNOS:
                doubt, missing_folder = self._missing_target_context(absolute_target)
                if doubt:
                    return problem(UNKNOWN, doubt)
                broken = problem(BROKEN, "symlink loop" if exc.errno == errno.ELOOP else f"target missing: {_describe(exc)}")
                return _MissingFolder(broken, missing_folder) if missing_folder else broken
            if exc.errno == errno.EACCES:
                return problem(INACCESSIBLE, f"cannot reach the target: {_describe(exc)}")
            return self._unreadable(problem, absolute_target, exc, 0)
        if stat.S_ISDIR(info.st_mode):
            # A link to a directory: the original never examined these (os.walk lists
            # them as directories); only reachability applies to a directory.
            if not os.access(path, os.R_OK | os.X_OK):
                return problem(INACCESSIBLE, "directory not readable")
            return _Healthy(0, False)
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
            cached = self._recent_verdict(path, info)
            if cached is not None:
                # phase 2 read this very file (same size and mtime) recently: skip the
                # 1024-byte read, the one network request of phase 1, and the probe
                return _Healthy(info.st_size, True, cached, target)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.read(descriptor, READ_BYTES)
            finally:
                os.close(descriptor)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                return problem(INACCESSIBLE, f"not readable: {_describe(exc)}", info.st_size)
            return self._unreadable(problem, absolute_target, exc, info.st_size)
        return _Healthy(info.st_size, is_media)

    def _recent_verdict(self, path: str, info: os.stat_result) -> ProbeVerdict | None:
        assert self.verdict_store is not None
        return self.verdict_store.get(os.path.realpath(path), info.st_size, info.st_mtime_ns, self.options.depth,
                                      self.options.recheck_age_seconds)

    def _unreadable(self, problem: Callable[..., Problem], absolute_target: str, exc: OSError, size: int) -> Problem:
        if exc.errno in UNKNOWN_ERRNOS:
            health = self.monitor.report_failure(absolute_target)
            state = "is down" if not health.healthy else "answered"
            return problem(UNKNOWN, f"{_describe(exc)}; mount {health.mount_point} {state}", size)
        return problem(IO_ERROR, _describe(exc), size)

    def _missing_target_context(self, absolute_target: str) -> tuple[str | None, str | None]:
        """(why a missing target may be a missing *mount* rather than a missing file,
        the missing folder to hold the link back for when it sits on a local filesystem).

        Looks for the nearest existing ancestor of the target: an empty directory that is
        not a mount point is what an unmounted mount point looks like (a scan-level
        finding, as the banner and the deletion refusal rely on ``mount_down``).
        """
        directory = os.path.dirname(absolute_target)
        known = self._missing_context.get(directory)
        if known is not None:
            return known
        doubt = missing_folder = None
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
                    doubt = f"{ancestor}: {_describe(exc)}"
                    self.monitor.note_not_visible(ancestor, f"cannot list it: {_describe(exc)}")
                break
            if empty and not self.monitor.is_mount_point(ancestor):
                doubt = f"target root {ancestor} is empty and not a mount point: looks unmounted"
                self.monitor.note_not_visible(
                    ancestor, "empty and not a mount point: looks unmounted (the links into it are UNKNOWN)")
            elif ancestor != directory:  # a folder is missing, not only the file
                if not is_network_fstype(self.monitor.mount_of(ancestor).fstype):
                    missing_folder = below
            break
        if len(self._missing_context) > 10_000:
            self._missing_context.clear()
        self._missing_context[directory] = (doubt, missing_folder)
        return doubt, missing_folder


def _safe_readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


# ----------------------------------------------------------------------------- scan


class _Spool:
    """Phase-2 candidates on disk, not in memory (NUL separated: names may hold newlines)."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        self.count = 0
        self.lock = threading.Lock()  # phase 1 adds from two threads (see QuickLocalPool)

    def add(self, path: str) -> None:
        self.add_many([path])

    def add_many(self, paths: list[str]) -> None:
        with self.lock:
            self.file.write(b"".join(os.fsencode(path) + b"\0" for path in paths))
            self.count += len(paths)

    def __iter__(self) -> Iterator[str]:
        self.file.flush()
        self.file.seek(0)
        remainder = b""
        while chunk := self.file.read(1 << 16):
            parts = (remainder + chunk).split(b"\0")
            remainder = parts.pop()
            for part in parts:
                yield os.fsdecode(part)

    def close(self) -> None:
        self.file.close()


class _ProgressReporter:
    def __init__(self, on_progress: Callable[[Progress], None] | None, counts: dict[str, int]) -> None:
        self.on_progress = on_progress
        self.counts = counts
        self.phase = ""
        self.started = time.monotonic()
        self.last_sent = 0.0

    def start_phase(self, phase: str, message: str = "", total: int | None = None) -> None:
        self.phase = phase
        self.started = time.monotonic()
        self.send(0, total, message, force=True)

    def send(self, done: int, total: int | None, message: str = "", *, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_sent < _PROGRESS_INTERVAL:
            return
        self.last_sent = now
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if total is not None and rate > 0 else None
        self.on_progress(Progress(self.phase, done, total, dict(self.counts), rate, eta, message))


def run_scan(
    options: ScanOptions,
    *,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_progress: Callable[[Progress], None] | None = None,
    should_abort: Callable[[], bool] = lambda: False,
    verdict_store: VerdictStore | None = None,
    monitor: MountMonitor | None = None,
    mount_memory: MountMemory | None = None,
) -> ScanResult:
    """Scan ``options.paths``; see the module docstring. Never deletes anything.

    With ``mount_memory``, a mount point where earlier scans saw targets answering is
    "down" when it is missing now (its links UNKNOWN, ``mount_down`` set), and the FUSE /
    network mounts seen answering by this scan are remembered."""
    if options.depth != "basic":
        tool_path("ffprobe")
        if options.depth == "deep":
            tool_path("ffmpeg")
    started = time.monotonic()
    statistics = new_statistics()
    counts: dict[str, int] = {}
    reporter = _ProgressReporter(on_progress, counts)
    monitor = monitor or MountMonitor(
        timeout=options.mount_timeout, interval=options.mount_check_interval, expected_mounts=options.expected_mounts,
        known_mounts=mount_memory.known() if mount_memory is not None else None,
        concurrency=max(options.workers, options.probe_workers or 0),
    )
    result = ScanResult(options.scan_id or "", statistics, [], 0.0, False, False)

    reporter.start_phase("mounts", "checking mounts")
    for health in monitor.check_all(options.paths):
        if not health.healthy and any(is_under(p, health.mount_point) for p in options.paths):
            result.stopped_reason = f"the scanned path's mount {health.mount_point} is down: {health.reason}"

    def count(status: str, phase_key: str | None, times: int = 1) -> None:
        counts[status] = counts.get(status, 0) + times
        if phase_key:
            statistics[phase_key] += times

    spool = _Spool() if options.depth != "basic" else None
    try:
        if result.stopped_reason is None:
            result.cancelled = _phase1(options, monitor, spool, statistics, count, on_problem, reporter, should_abort,
                                       result, verdict_store)
        if spool is not None and spool.count and not result.cancelled and result.stopped_reason is None:
            result.phase2_estimate = original_estimate(spool.count)
            result.cancelled = _phase2(
                options, monitor, spool, statistics, count, on_problem, reporter, should_abort, verdict_store, result
            )
    finally:
        if spool is not None:
            spool.close()
        if verdict_store is not None:
            verdict_store.flush()
    monitor.wait_for_rechecks(options.mount_timeout + 1)  # a hung folder's mount check decides mount_down
    findings = monitor.findings()
    if mount_memory is not None:
        mount_memory.remember([h for h in findings if h.healthy and not h.was_down and is_network_fstype(h.fstype)])
    result.mounts = [h.as_dict() for h in findings]
    result.mount_down = any(h.was_down for h in findings)
    result.duration_seconds = round(time.monotonic() - started, 3)
    reporter.phase = "done"
    reporter.send(statistics["total_analyzed"], None, "cancelled" if result.cancelled else "finished", force=True)
    return result


# A link whose checks passed their deadline gets a second chance at the end of its phase
# before it is UNKNOWN: a flaky mount answers late at times, and one slow call must not
# make a verdict. A call still in flight is waited for up to LATE_WAIT_FACTOR times the
# deadline (5 min by default, rclone's own --timeout) as long as its mount is alive: a
# read that rclone retries with its default flags takes ~25 s alone, and k of them at
# once take ~k x 25 s (they share rclone's pacer). A call that ended (a probe killed at
# its timeout) is made again with LATE_RETRY_FACTOR times the deadline.
LATE_RETRY_FACTOR = 3
LATE_WAIT_FACTOR = 30
_MAX_LATE = 10_000  # late links kept in memory for that retry; past this they are UNKNOWN


def _mount_feedback(monitor: MountMonitor) -> dict[str, Any]:
    """What a pool learns from the mounts: threads to give up (hung mount), the concurrency
    limit (back-pressure) and the deadline (observed latency)."""
    return {"stuck": monitor.stuck_threads, "concurrency": monitor.concurrency_limit, "deadline_for": monitor.deadline}


class _Late:
    """Items that passed their deadline, settled at the end of the phase with a longer one.

    The call that passed its deadline is usually still running (its thread was given up,
    not stopped): through rclone a second request for the same file would only queue
    behind the first one's retries, on the pacer every call shares. So an item whose call
    is still in flight gets its answer from that call, if it comes within the longer
    deadline (:meth:`deliver`, from the pool's ``on_late_result``); an item whose call
    ended (a probe killed at its timeout) is called again, with the longer deadline."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bool]] = []  # (path, its call still in flight)
        self.open: set[str] = set()
        self.answers: dict[str, Any] = {}
        self.lock = threading.Lock()

    def defer(self, path: str, in_flight: bool) -> bool:
        if len(self.items) >= _MAX_LATE:
            return False
        self.items.append((path, in_flight))
        self.open.add(path)
        return True

    def deliver(self, path: str, outcome: Any) -> None:
        with self.lock:
            self.answers[path] = outcome

    def retry(self, fn, *, workers: int, deadline: float, wait: float, max_abandoned: int, monitor: MountMonitor,
              should_abort, on_tick) -> Iterator[tuple[str, Any]]:
        """Every deferred item's answer: ``fn`` again with ``deadline`` for an item whose call
        ended, the call in flight for up to ``wait`` from now (while its mount is not hung)."""
        ends = time.monotonic() + wait
        again = [path for path, in_flight in self.items if not in_flight]
        if again:
            pool = DeadlinePool(fn, workers=workers, deadline=deadline, max_abandoned=max_abandoned,
                                **_mount_feedback(monitor))
            for path, outcome in pool.run(iter(again), should_abort, on_tick):
                self.open.discard(path)
                yield path, outcome
        waiting = [path for path, in_flight in self.items if in_flight]
        while waiting and not should_abort():
            with self.lock:
                arrived = [path for path in waiting if path in self.answers]
            for path in arrived:
                waiting.remove(path)
                self.open.discard(path)
                yield path, self.answers.pop(path)
            if not waiting or time.monotonic() > ends or all(monitor.is_hung(_target_of(p)) for p in waiting):
                break
            on_tick()
            time.sleep(0.1)


def _target_of(path: str) -> str:
    return lexical_target(path, _safe_readlink(path))


def _late_or_down(path: str, monitor: MountMonitor) -> tuple[str, str, str | None]:
    """(target, absolute target, why UNKNOWN now) for an item past its deadline. Never
    blocks: the mount's last known health, and a re-check started in the background."""
    target = _safe_readlink(path)  # the link itself is local: lstat-level, no hang
    absolute_target = lexical_target(path, target)
    known = monitor.recheck_soon(absolute_target)
    if known is not None and not known.healthy:
        return target, absolute_target, f"mount {known.mount_point} is down: {known.reason}"
    return target, absolute_target, None


def _phase1(options, monitor, spool, statistics, count, on_problem, reporter, should_abort, result, store) -> bool:
    classifier = LinkClassifier(options, monitor, store)
    reporter.start_phase("phase1", "phase 1: checking links")
    late = _Late()
    pool = DeadlinePool(
        classifier.classify_for_scan, workers=options.workers, deadline=options.fs_timeout,
        max_abandoned=options.max_hung_calls, on_late_result=late.deliver, **_mount_feedback(monitor),
    )
    hung_folders: list[str] = []

    def folder_hung(folder: str) -> None:  # called by the walk, in the pool's feeder thread
        hung_folders.append(folder)
        monitor.recheck_soon(folder)

    links = walk_links(options.paths, result.walk_errors, deadline=options.fs_timeout, on_hung=folder_hung)
    quick = QuickLocalPool(
        QuickRules(
            mounts=monitor.local_mount_table(), root_reads_everything=classifier.root_reads_everything,
            small_files_all=options.small_files == "all", sidecar_extensions=sorted(SIDECAR_EXTENSIONS),
            media_extensions=sorted(MEDIA_EXTENSIONS), media_to_caller=classifier.verdict_store is not None,
            media_paths_wanted=spool is not None, small_bytes=SMALL_FILE_BYTES, read_bytes=READ_BYTES,
        ),
        processes=options.local_processes, deadline=options.fs_timeout,
        on_media=spool.add_many if spool is not None else lambda paths: None,
    )
    held_back = _HeldBack()
    mounts_seen: set[str] = set()

    def report(problem: Problem) -> None:
        count(problem.status, _PHASE1_KEYS[problem.status])
        on_problem(problem)

    def count_settled() -> None:
        """Count the links the worker processes found OK (none of them is a problem)."""
        tally = quick.take()
        if tally.ok:
            count(OK, "phase1_ok", tally.ok)
            statistics["total_analyzed"] += tally.ok
            statistics["media_links"] += tally.media
            reporter.send(statistics["total_analyzed"], None, f"phase 1: {statistics['total_analyzed']} links")
        for mount_point in tally.touched - mounts_seen:  # a mount is a finding once its targets are checked
            mounts_seen.add(mount_point)
            monitor.health(monitor.mount_of(mount_point))

    def tick() -> None:
        count_settled()
        monitor.watch()

    def settle(path: str, outcome: Any, retried: bool) -> None:
        if outcome is None:
            return  # vanished or not a link any more
        if outcome is TIMED_OUT:
            target, absolute_target, down = _late_or_down(path, monitor)
            if down is None and not retried:
                monitor.note_late(absolute_target)
                if late.defer(path, in_flight=True):
                    return
            outcome = Problem(path, target, UNKNOWN, 1, 0, down or f"no answer within {options.fs_timeout:g}s"
                              + (f", nor in {options.fs_timeout * LATE_WAIT_FACTOR:g}s more at the end of the phase"
                                 if retried else ""))
        elif isinstance(outcome, BaseException):
            outcome = Problem(path, _safe_readlink(path), ERROR, 1, 0, f"{type(outcome).__name__}: {outcome}")
        statistics["total_analyzed"] += 1
        if isinstance(outcome, _Healthy):
            count(OK, "phase1_ok")
            if outcome.is_media:
                statistics["media_links"] += 1
                if outcome.cached is not None:
                    _count_cached_verdict(path, outcome, statistics, count, on_problem)
                elif spool is not None:
                    spool.add(path)
        elif isinstance(outcome, _MissingFolder):
            held_back.add(outcome)
        else:
            report(outcome)
        done = statistics["total_analyzed"]
        reporter.send(done, None, f"phase 1: {done} links")

    try:
        for path, outcome in pool.run(quick.unsettled(links), should_abort, tick):
            settle(path, outcome, False)
        for path, outcome in late.retry(classifier.classify_for_scan, workers=options.workers,
                                        deadline=options.fs_timeout * LATE_RETRY_FACTOR,
                                        wait=options.fs_timeout * LATE_WAIT_FACTOR,
                                        max_abandoned=options.max_hung_calls, monitor=monitor,
                                        should_abort=should_abort, on_tick=tick):
            settle(path, outcome, True)
    except TooManyHungCalls as exc:
        result.stopped_reason = f"{exc}: the filesystem is not answering"
    finally:
        quick.close()
        count_settled()
        for path in late.open:  # not retried: the scan stopped first
            settle(path, TIMED_OUT, True)
        held_back.release(statistics["total_analyzed"], monitor, report)
    for folder in hung_folders:
        statistics["total_analyzed"] += 1
        report(Problem(folder, "", UNKNOWN, 1, 0,
                       f"library folder did not answer within {options.fs_timeout:g}s: its links were not checked"))
    return should_abort()


# when this share of a scan's links point under missing folders of one parent folder on a
# local filesystem, the mount that should be there is not visible (a container without the
# rclone bind, say), rather than the whole library being broken
NOT_VISIBLE_SHARE = 0.8


class _HeldBack:
    """BROKEN links under missing local folders, spooled to disk until phase 1 ends."""

    def __init__(self) -> None:
        self.file: Any = None
        self.by_parent: dict[str, Counter[str]] = {}  # parent -> missing folder -> links
        # parent -> folders the links point into (2 at most: one folder is one lost release,
        # as in a real debrid breakage; several are a whole tree gone)
        self.target_folders: dict[str, set[str]] = {}

    def add(self, held: _MissingFolder) -> None:
        if self.file is None:
            self.file = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.file.write(json.dumps([held.missing, held.problem.as_dict()], ensure_ascii=False) + "\n")
        self.by_parent.setdefault(os.path.dirname(held.missing), Counter())[held.missing] += 1
        folders = self.target_folders.setdefault(os.path.dirname(held.missing), set())
        if len(folders) < 2:
            folders.add(os.path.dirname(lexical_target(held.problem.path, held.problem.target)))

    def release(self, analyzed: int, monitor: MountMonitor, report: Callable[[Problem], None]) -> None:
        """Report the held links: UNKNOWN when their parent's missing folders hold most of
        the scan's links (and say so at the scan level), BROKEN otherwise."""
        if self.file is None:
            return
        not_visible: dict[str, str] = {}
        for parent, missing in self.by_parent.items():
            links = sum(missing.values())
            if links >= NOT_VISIBLE_SHARE * analyzed and len(self.target_folders[parent]) > 1:
                why = (f"{links} of the scan's {analyzed} links point into it, under {parent} which exists: "
                       "the mount that should be there is not visible here")
                for folder, _ in missing.most_common(3):
                    monitor.note_not_visible(folder, f"does not exist; {why}")
                not_visible[parent] = why
        self.file.seek(0)
        for line in self.file:
            missing, fields = json.loads(line)
            problem = Problem(**fields)
            why = not_visible.get(os.path.dirname(missing))
            if why is not None:
                problem = Problem(problem.path, problem.target, UNKNOWN, 1, problem.size,
                                  f"target folder {missing} does not exist; {why}")
            report(problem)
        self.file.close()
        self.file = None


def _count_cached_verdict(path, healthy: _Healthy, statistics, count, on_problem) -> None:
    statistics["phase2_analyzed"] += 1
    statistics["skipped_cached"] += 1
    if healthy.cached is not None and healthy.cached.verdict == CORRUPTED:
        count(CORRUPTED, "phase2_corrupted")
        on_problem(Problem(path, healthy.target, CORRUPTED, 2, healthy.size, healthy.cached.reason))


def _phase2(options, monitor, spool, statistics, count, on_problem, reporter, should_abort, store, result) -> bool:
    depth = options.depth
    total = spool.count
    reporter.start_phase("phase2", f"phase 2 ({depth}): {total} media files, original estimate {result.phase2_estimate}", total)

    def verifier(factor: float):
        def verify(path: str) -> tuple[ProbeVerdict, bool, tuple[str, int, int] | None]:
            target = lexical_target(path, _safe_readlink(path))
            health = monitor.health_of(target)
            if not health.healthy:
                return ProbeVerdict(UNKNOWN, f"mount {health.mount_point} is down: {health.reason}"), False, None
            with monitor.call_on(target) as call:
                try:
                    info = os.stat(path)
                    identity = (os.path.realpath(path), info.st_size, info.st_mtime_ns)
                except OSError as exc:
                    call.failed = True
                    return ProbeVerdict(UNKNOWN, f"stat before probing failed: {_describe(exc)}"), False, None
                if store is not None:
                    cached = store.get(*identity, depth, options.recheck_age_seconds)
                    if cached is not None:
                        return cached, True, identity
                verdict = probe(path, depth, timeout=options.probe_timeout * factor, samples=options.deep_samples)
                call.failed = verdict.verdict == UNKNOWN
                call.remote = verdict.verdict != UNKNOWN  # the probe read the file
                if verdict.verdict == OK:
                    call.good = path
            if verdict.verdict == UNKNOWN and not verdict.late:
                monitor.report_failure(target)
            return verdict, False, identity
        return verify

    samples = options.deep_samples if depth == "deep" else 0
    deadline = options.probe_timeout * (2 + samples) + options.fs_timeout
    late = _Late()
    done = 0

    def settle(path: str, outcome: Any, retried: bool) -> None:
        nonlocal done
        timed_out = outcome is TIMED_OUT
        if outcome is TIMED_OUT or isinstance(outcome, BaseException):
            down = _late_or_down(path, monitor)[2] if outcome is TIMED_OUT else None
            why = down or ("probe hung past its deadline" if outcome is TIMED_OUT
                           else f"{type(outcome).__name__}: {outcome}")
            outcome = (ProbeVerdict(UNKNOWN, why, late=outcome is TIMED_OUT and down is None), False, None)
        verdict, cached, identity = outcome
        if verdict.late and not retried:
            monitor.note_late(_target_of(path))
            if late.defer(path, in_flight=timed_out):
                return
        done += 1
        statistics["phase2_analyzed"] += 1
        statistics["skipped_cached" if cached else "phase2_probed"] += 1
        if store is not None and identity is not None and not cached and verdict.verdict != UNKNOWN:
            store.put(*identity, depth, verdict)
        if verdict.verdict == CORRUPTED:
            count(CORRUPTED, "phase2_corrupted")
        elif verdict.verdict == UNKNOWN:
            count(UNKNOWN, "phase2_unknown")
        if verdict.verdict != OK:
            # the size from the probe's own stat: the coordinator never touches the mount
            size = identity[1] if identity is not None else 0
            on_problem(Problem(path, _safe_readlink(path), verdict.verdict, 2, size, verdict.reason))
        reporter.send(done, total, f"phase 2 ({depth}): {done}/{total}")

    workers = options.probe_workers or options.workers
    pool = DeadlinePool(verifier(1), workers=workers, deadline=deadline, max_abandoned=options.max_hung_calls,
                        on_late_result=late.deliver, **_mount_feedback(monitor))
    try:
        for path, outcome in pool.run(iter(spool), should_abort, monitor.watch):
            settle(path, outcome, False)
        for path, outcome in late.retry(verifier(LATE_RETRY_FACTOR), workers=workers,
                                        deadline=deadline * LATE_RETRY_FACTOR, wait=deadline * LATE_RETRY_FACTOR,
                                        max_abandoned=options.max_hung_calls,
                                        monitor=monitor, should_abort=should_abort, on_tick=monitor.watch):
            settle(path, outcome, True)
    except TooManyHungCalls as exc:
        result.stopped_reason = f"{exc}: the filesystem is not answering"
    finally:
        for path in late.open:
            settle(path, (ProbeVerdict(UNKNOWN, "probe passed its deadline; not retried (the scan stopped)"),
                          False, None), True)
    return should_abort()
