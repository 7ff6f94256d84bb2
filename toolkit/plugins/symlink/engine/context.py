"""What both phases of a scan share (:class:`ScanContext`): the options, the mounts, the
result being filled, the progress reporter, the callbacks and the phase-2 spool."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .model import Problem, Progress, ScanOptions, ScanResult, VerdictStore
from .mounts import MountMonitor
from .scratch import scratch_file

if TYPE_CHECKING:
    from .avprobe import AvProber

_PROGRESS_INTERVAL = 0.5


class Spool:
    """Phase-2 candidates on disk, not in memory (NUL separated: names may hold newlines).
    Read while phase 1 writes (:meth:`follow`) until it is :meth:`seal`-ed."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.file = scratch_file()
        self.count = 0
        self.written = 0  # bytes
        self.sealed = False
        self.lock = threading.Lock()  # phase 1 adds from two threads (see QuickLocalPool)
        self.changed = threading.Condition(self.lock)
        self.on_first = on_first  # called once, when the first candidate comes (phase 2 will run)

    def add(self, path: str) -> None:
        self.add_many([path])

    def add_many(self, paths: list[str]) -> None:
        data = b"".join(os.fsencode(path) + b"\0" for path in paths)
        with self.lock:
            first = self.count == 0 and bool(paths)
            self.file.write(data)
            self.file.flush()  # for follow()'s reads
            self.count += len(paths)
            self.written += len(data)
            self.changed.notify_all()
        if first and self.on_first is not None:
            self.on_first()

    def seal(self) -> None:
        """No more candidates: :meth:`follow` ends once it has read them all."""
        with self.lock:
            self.sealed = True
            self.changed.notify_all()

    def follow(self) -> Iterator[str]:
        """Every candidate, as it is added, until the spool is sealed."""
        offset, remainder = 0, b""
        while True:
            with self.lock:
                self.changed.wait_for(lambda: self.written > offset or self.sealed)
                end, sealed = self.written, self.sealed
            while offset < end:
                with self.lock:  # not after close(): the number may be another file's by then
                    if self.file.closed:
                        return
                    chunk = os.pread(self.file.fileno(), min(end - offset, 1 << 16), offset)
                offset += len(chunk)
                parts = (remainder + chunk).split(b"\0")
                remainder = parts.pop()
                for part in parts:
                    yield os.fsdecode(part)
            if sealed:
                return

    def close(self) -> None:
        with self.lock:
            self.sealed = True
            self.file.close()
            self.changed.notify_all()


class ProgressReporter:
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


@dataclass
class ScanContext:
    """One scan in progress, handed to each phase."""

    options: ScanOptions
    monitor: MountMonitor
    result: ScanResult  # its ``statistics`` are the scan's counters
    reporter: ProgressReporter
    on_problem: Callable[[Problem], None]
    should_abort: Callable[[], bool]
    verdict_store: VerdictStore | None
    spool: Spool | None  # phase-2 candidates (None at depth "basic")
    av_prober: AvProber | None = None  # phase 2's header query (depth "full", prober "av")

    @property
    def statistics(self) -> dict[str, int]:
        return self.result.statistics

    def count(self, status: str, phase_key: str | None, times: int = 1) -> None:
        counts = self.reporter.counts
        counts[status] = counts.get(status, 0) + times
        if phase_key:
            self.result.statistics[phase_key] += times
