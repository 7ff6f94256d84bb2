"""What a scan takes and gives back: statuses, options, problems, progress, results, and
the interfaces of the stores a scan may be given (verdict cache, mount memory)."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .probe import PROBE_TIMEOUT_SECONDS, PROBERS, default_prober
from .quick_worker import default_processes

if TYPE_CHECKING:
    from .mounts import MountHealth
    from .probe import ProbeVerdict

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


@dataclass
class ScanOptions:
    paths: list[str]
    depth: str = "basic"
    # 12: what rclone serves at once with its default flags (FUSE max_background 12 for its
    # async reads; pacer connections = --checkers 8 + --transfers 4), measured: fewer
    # leaves a slow debrid mount half used (bench/RESULTS.md). Local links are settled by
    # the worker processes and a single thread while calls are fast: threads cost nothing.
    workers: int = 12
    probe_workers: int | None = None  # phase-2 concurrency; default = workers
    fs_timeout: float = 10.0  # deadline for one link's phase-1 checks
    mount_timeout: float = 20.0  # a mount is down (hung) when nothing on it answered for this long
    mount_check_interval: float = 30.0  # re-check each mount this often during a scan
    probe_timeout: float = PROBE_TIMEOUT_SECONDS  # per ffprobe/ffmpeg process
    deep_samples: int = 4
    # depth "full": "av" lists streams in long-lived PyAV processes, "ffprobe" (parity
    # mode) spawns the original's ffprobe query per file; "deep" always runs ffprobe/ffmpeg
    prober: str = field(default_factory=default_prober)
    recheck_age_seconds: float = 30 * 24 * 3600  # re-probe cached verdicts older than this
    small_files: str = "media"  # "media": skip sidecars (.nfo, .srt...); "all": original
    expected_mounts: list[str] = field(default_factory=list)
    max_hung_calls: int = 64
    scan_id: str | None = None
    # worker processes for links into local filesystems (CPU-bound: threads cannot help);
    # with any, a thread of the scan process settles links too (engine/quick.py)
    local_processes: int = field(default_factory=default_processes)

    def __post_init__(self) -> None:
        if self.depth not in DEPTHS:
            raise ValueError(f"depth must be one of {', '.join(DEPTHS)}, not {self.depth!r}")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.local_processes < 0:
            raise ValueError("local_processes cannot be negative")
        if self.prober not in PROBERS:
            raise ValueError(f"prober must be one of {', '.join(PROBERS)}, not {self.prober!r}")
        if self.small_files not in ("media", "all"):
            raise ValueError("small_files must be 'media' or 'all'")
        if not self.paths:
            raise ValueError("at least one path to scan is needed")
        self.paths = [os.path.abspath(p) for p in self.paths]
        self.scan_id = self.scan_id or os.urandom(6).hex()  # as uuid4().hex[:12], without uuid (platform...)


@dataclass
class Problem:
    path: str
    target: str
    status: str
    phase: int
    size: int
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        # its fields in order, as asdict() gives them: flat values need none of asdict's deep
        # copy, which cost ~15 us per problem on each side of the scan process's pipe
        return dict(self.__dict__)


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
    """Mount points where earlier scans saw targets answering (see ``mount_memory.SqlMountMemory``)."""

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
